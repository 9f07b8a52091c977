"""Our TunedLens against the reference implementation's (the tuned-lens package), layer by layer.

Both lenses are trained on the same texts (built-in stories 0-99, read as ``TunedLens`` reads them:
``tokenizer(text, truncation=True, max_length=256)``, each text alone, teacher forcing) for the same
wall-clock budget on this machine, then scored by one independent evaluator on stories 100-119, which
neither saw: the model's own forward pass (``output_hidden_states``), the package's ``Unembed`` (final norm
and unembedding) for every lens, and the whole-vocabulary ``KL(final || lens)`` in float64, mean over
positions, per layer.

* **Ours**: ``TunedLens(model, random_state=0).fit(stories 0-99)`` with every other parameter at its
  default; its ``fit_time_`` (reading the texts included) sets the budget.
* **The package's lens**: ``tuned_lens.nn.TunedLens.from_model(model)``, trained with the loop of its
  ``scripts/train_loop.py`` written out (that script does not import with torchdata >= 0.10): loss
  ``KL(final || lens)`` over the whole vocabulary at the current token for every translator, bfloat16
  autocast around the lens, ``clip_grad_norm_(1.0)``, and its optimiser, either the default SGD (lr 0.1,
  momentum 0.9, Nesterov, weight decay 1e-3, linear decay to 0) or its Adam option (amsgrad, lr 1e-3,
  weight decay 1e-3). A CPU cannot run its intended 2^18 tokens a step for 250 steps: it takes
  ``--tokens-per-step`` random positions a step (128), as many steps as fit the budget (timed on two
  steps first, that time counted), over hidden states read once.

Needs the reference package: ``pip install -c constraints.txt -e ".[tuned-lens]"`` (it skips, saying so,
without it). Run on an idle machine: ``python benchmarks/tuned_lens_parity.py`` (about four times the
budget: ours, then the package's lens with each optimiser, then the evaluation; 40 minutes on 2 cores
for SmolLM2). ``--save-lens FILE`` keeps our fitted lens (skops), for the examples that read it.
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np
import torch

from sklearn_entropylens import TunedLens, dump
from sklearn_entropylens.datasets import load_story_texts
from sklearn_entropylens.models import load_model

TRAINING, HELD_OUT = slice(0, 100), slice(100, 120)
MAX_LENGTH = 256


def read_hidden_states(loaded, texts):
    """HF hidden states 0 .. L-1 (embeddings, blocks 1 .. L-1) and the model's log-probabilities, per position."""
    hidden, final = [], []
    with torch.no_grad():
        for text in texts:
            ids = loaded.tokenizer(text, truncation=True, max_length=MAX_LENGTH)["input_ids"]
            output = loaded.model(input_ids=torch.tensor([ids]), output_hidden_states=True, use_cache=False)
            hidden.append(torch.stack(output.hidden_states[:-1], 2)[0].float())  # (T, L, d)
            final.append(output.logits[0].float())
    return torch.cat(hidden), torch.cat(final)


def train_package_lens(loaded, texts, budget, optimiser, tokens_per_step, seed=42):
    """The package's lens trained with its own recipe for ``budget`` wall-clock seconds (reading included)."""
    from transformers import get_linear_schedule_with_warmup
    from tuned_lens.nn import TunedLens as PackageTunedLens

    started = time.perf_counter()
    hidden, final_logits = read_hidden_states(loaded, texts)
    n_positions, n_layers = hidden.shape[0], hidden.shape[1]
    rng = np.random.default_rng(seed)

    def make():
        lens = PackageTunedLens.from_model(loaded.model).float()
        parameters = [parameter for parameter in lens.parameters() if parameter.requires_grad]
        if optimiser == "adam":
            return lens, torch.optim.Adam(parameters, amsgrad=True, betas=(0.9, 0.999), lr=1e-3, weight_decay=1e-3)
        return lens, torch.optim.SGD(parameters, lr=1.0 * (1 - 0.9), momentum=0.9, nesterov=True, weight_decay=1e-3)

    def step(lens, opt, schedule):
        index = torch.as_tensor(rng.choice(n_positions, tokens_per_step, replace=False))
        labels = final_logits[index].log_softmax(-1)
        for layer in range(n_layers):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = lens(hidden[index, layer], idx=layer)
                loss = torch.sum(labels.exp() * (labels - logits.float().log_softmax(-1)), dim=-1).mean()
            loss.backward()
        torch.nn.utils.clip_grad_norm_(lens.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=False)
        if schedule is not None:
            schedule.step()

    lens, opt = make()
    timed = time.perf_counter()
    step(lens, opt, None)
    step(lens, opt, None)
    per_step = (time.perf_counter() - timed) / 2
    num_steps = max(1, int((budget - (time.perf_counter() - started)) / per_step))
    lens, opt = make()
    schedule = get_linear_schedule_with_warmup(opt, 0, num_steps)
    for _ in range(num_steps):
        step(lens, opt, schedule)
    weights = torch.stack([translator.weight.detach().float() for translator in lens]).numpy()
    biases = torch.stack([translator.bias.detach().float() for translator in lens]).numpy()
    return weights, biases, {"seconds": time.perf_counter() - started, "steps": num_steps,
                             "positions": num_steps * tokens_per_step, "epochs": num_steps * tokens_per_step / n_positions}


def evaluate(loaded, texts, lenses, top_tokens):
    """Per layer 0 .. L, in float64: mean whole-vocabulary ``KL(final || lens)``, and mean lens probability
    outside ``top_tokens``; and the number of positions."""
    from tuned_lens.nn.unembed import Unembed

    unembed = Unembed(loaded.model)
    n_layers = loaded.n_layers
    top = torch.as_tensor(top_tokens)
    totals = {name: np.zeros(n_layers + 1) for name in lenses}
    inside = {name: np.zeros(n_layers + 1) for name in lenses}
    n_positions = 0
    with torch.no_grad():
        for text in texts:
            ids = loaded.tokenizer(text, truncation=True, max_length=MAX_LENGTH)["input_ids"]
            output = loaded.model(input_ids=torch.tensor([ids]), output_hidden_states=True, use_cache=False)
            log_p = output.logits[0].double().log_softmax(-1)
            p = log_p.exp()
            for layer in range(n_layers):
                h = output.hidden_states[layer][0].float()
                for name, (weights, biases) in lenses.items():
                    translated = h if weights is None else h + h @ torch.from_numpy(weights[layer]).T + torch.from_numpy(biases[layer])
                    log_q = unembed(translated).double().log_softmax(-1)
                    totals[name][layer] += float((p * (log_p - log_q)).sum())
                    inside[name][layer] += float(log_q[:, top].exp().sum())
            for name in lenses:
                inside[name][n_layers] += float(p[:, top].sum())
            n_positions += len(ids)
    kl = {name: total / n_positions for name, total in totals.items()}
    outside = {name: 1 - total / n_positions for name, total in inside.items()}
    return kl, outside, n_positions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--optimisers", default="adam,sgd", help="the package's optimisers to train with")
    parser.add_argument("--tokens-per-step", type=int, default=128)
    parser.add_argument("--save-lens", help="save our fitted lens here (skops)")
    parser.add_argument("--output", default="benchmarks/results/tuned_lens_parity.json")
    args = parser.parse_args(argv)
    try:
        import tuned_lens  # noqa: F401
    except ImportError:
        print('SKIPPED: needs the reference implementation: pip install -c constraints.txt -e ".[tuned-lens]"')
        return 0
    stories = load_story_texts()
    training, held_out = list(stories[TRAINING]), list(stories[HELD_OUT])
    loaded = load_model(args.model)  # loaded (and converted) before any clock starts
    ours = TunedLens(args.model, random_state=0).fit(training)
    if args.save_lens:
        dump(ours, args.save_lens)
    budget = ours.fit_time_
    print(f"ours: {ours.fit_time_:.0f} s, {ours.n_epochs_} epochs of {ours.n_training_positions_} positions; "
          f"that is the budget of the package's lens", flush=True)
    lenses = {"logit lens": (None, None), "ours": (ours.weights_, ours.biases_)}
    runs = {"ours": {"seconds": ours.fit_time_, "epochs": ours.n_epochs_}}
    for optimiser in args.optimisers.split(","):
        weights, biases, run = train_package_lens(loaded, training, budget, optimiser, args.tokens_per_step)
        name = f"tuned-lens, {optimiser}"
        lenses[name], runs[name] = (weights, biases), run
        print(f"{name}: {run['seconds']:.0f} s, {run['steps']} steps ({run['epochs']:.2f} epochs)", flush=True)
    kl, outside, n_positions = evaluate(loaded, held_out, lenses, ours.top_tokens_)
    names = list(lenses)
    print(f"\nMean KL(final || lens) in nats, whole vocabulary, float64, {n_positions} held-out positions "
          f"(stories 100-119) of {args.model}; equal wall-clock budget {budget:.0f} s\n")
    print("| layer | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for layer in range(loaded.n_layers + 1):
        print(f"| {layer} | " + " | ".join(f"{kl[name][layer]:.3f}" for name in names) + " |")
    L = loaded.n_layers
    print("| mean 0-" + str(L - 1) + " | " + " | ".join(f"{kl[name][:L].mean():.3f}" for name in names) + " |")
    print(f"\nMean probability outside the {len(ours.top_tokens_)} tokens of our training loss (the final "
          f"distribution's own at layer {L}), same positions\n")
    print("| layer | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for layer in range(L + 1):
        print(f"| {layer} | " + " | ".join(f"{outside[name][layer]:.3f}" for name in names) + " |")
    verdicts = {}
    for name in names[2:]:
        worse = [layer for layer in range(L) if kl["ours"][layer] > kl[name][layer]]
        verdicts[name] = worse
        print(f"ours at or below {name} at every layer 0-{L - 1}: {not worse}" + (f" (above at {worse})" if worse else ""))
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({
        "model": args.model, "n_held_out_positions": n_positions, "budget_seconds": budget, "runs": runs,
        "kl": {name: values.tolist() for name, values in kl.items()}, "layers_where_ours_is_above": verdicts,
        "mass_outside_top_tokens": {name: values.tolist() for name, values in outside.items()},
        "date": time.strftime("%Y-%m-%d"), "torch_threads": torch.get_num_threads(),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
