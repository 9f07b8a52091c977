"""How the files beside this script were made: a lens written by the tuned-lens package itself.

Run once, from the repository root, in an environment with the package (``pip install -c constraints.txt
-e ".[test,tuned-lens]"``; tuned-lens 0.2.0, torch 2.13.0, transformers 5.23.0)::

    python tests/data/tuned_lens_tiny_llama/make_fixture.py

It writes

* ``model/``: a tiny random Llama (3 blocks, width 32, the 259-token byte tokenizer), saved with
  ``save_pretrained``, so the tests read exactly these weights whatever torch's random generator does;
* ``lens/``: ``tuned_lens.TunedLens.from_model(model)`` with seeded random translators (scale 0.1),
  saved by the package's own ``TunedLens.save`` (``config.json``, ``params.pt``);
* ``expected.npz``: the model's hidden states on one text (``hidden_states``, HF's ``output_hidden_states``
  of shape (L + 1, T, d)) and the package's lens logits on them (``lens_logits``, ``lens(h[i], idx=i)``
  for ``i = 0 .. L-1``, shape (L, T, V)), float32.
"""

import pathlib

import numpy as np
import torch
from tuned_lens import TunedLens as PackageTunedLens

from sklearn_entropylens.testing import make_byte_tokenizer, make_tiny_model

TEXT = "Once upon a time, a fox met a crow."
here = pathlib.Path(__file__).parent
model = make_tiny_model("llama", seed=0)
tokenizer = make_byte_tokenizer()
model.save_pretrained(here / "model")
tokenizer.save_pretrained(here / "model")
lens = PackageTunedLens.from_model(model)
generator = torch.Generator().manual_seed(0)
with torch.no_grad():
    for translator in lens:
        translator.weight.copy_(0.1 * torch.randn(translator.weight.shape, generator=generator))
        translator.bias.copy_(0.1 * torch.randn(translator.bias.shape, generator=generator))
lens.save(here / "lens")
ids = torch.tensor([tokenizer(TEXT)["input_ids"]])
with torch.no_grad():
    hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    logits = [lens(hidden[i], idx=i)[0] for i in range(model.config.num_hidden_layers)]
np.savez(here / "expected.npz", hidden_states=torch.stack(hidden)[:, 0].numpy(), lens_logits=torch.stack(logits).numpy(),
         input_ids=ids[0].numpy())
print("wrote", sorted(path.name for path in here.rglob("*") if path.is_file()))
