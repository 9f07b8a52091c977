"""A fitted pipeline saved with the library as it was before issue 34's restructure (HEAD 9d7b1df)."""
import json, sys, numpy as np, torch
torch.set_num_threads(2)
from sklearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression
import sklearn_entropylens as sel
out = sys.argv[1]
prompts = ["The capital of France is", "Once upon a time", "def add(a, b):", "2 + 2 =", "Paris is in", "class Foo:", "There was a dragon", "10 - 3 ="]
y = [0, 1, 2, 3, 0, 2, 1, 3]
pipe = make_pipeline(sel.EntropyProfileTransformer(n_tokens=2, statistics=["entropy", "kl_to_final"]),
                     sel.DepthRescaler(n_points=10), LogisticRegression(max_iter=500))
pipe.fit(prompts, y)
ep = sel.ExpansionPruningTransformer().fit(sel.EntropyProfileTransformer(n_tokens=2).set_output(transform="pandas").fit_transform(prompts))
sel.dump(pipe, f"{out}/pipeline_before_issue34.skops")
sel.dump(ep, f"{out}/expansion_pruning_before_issue34.skops")
json.dump({"prompts": prompts, "decision_function": pipe.decision_function(prompts).tolist(),
           "profile_features": pipe[0].transform(prompts).tolist(), "commit": "9d7b1df"},
          open(f"{out}/pipeline_before_issue34.json", "w"), indent=1)
print(sel.get_trusted_types())
