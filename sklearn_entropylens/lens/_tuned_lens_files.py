"""Lens files of the tuned-lens package (Belrose et al.): a folder with ``config.json`` and ``params.pt``.

The package (``tuned_lens.nn.TunedLens``, version 0.2.0) writes, for a model of ``L`` blocks of width ``d``:

* ``config.json``: ``base_model_name_or_path``, ``d_model``, ``num_hidden_layers``, ``bias``,
  ``base_model_revision``, ``unembed_hash`` and ``lens_type`` (``"linear_tuned_lens"``);
* ``params.pt``: a ``torch.save``-d dict of tensors ``"{i}.weight"`` (``d x d``, ``torch.nn.Linear``'s
  (out, in) layout) and ``"{i}.bias"`` (``d``) for ``i = 0 .. L-1``.

Translator ``i`` reads Hugging Face's ``hidden_states[i]`` (0: the embeddings, ``i``: the output of block
``i``) as ``h + h W_i^T + b_i``: the same layers and the same map as :class:`Translators`, so ``A_i = W_i``.
``params.pt`` is read with ``weights_only=True``: plain tensors only, nothing unpickled that could run code.
"""

import hashlib
import json
import pathlib

import numpy as np

CONFIG_FILE, PARAMS_FILE = "config.json", "params.pt"
LENS_TYPE = "linear_tuned_lens"


def unembedding_hash(weight):
    """The tuned-lens package's ``unembed_hash`` of an unembedding matrix ``(vocabulary, d)``.

    The package hashes numpy's default printout of the matrix at one decimal, which shows only its
    corners (three rows and columns of each edge): it tells models apart, not checkpoints of one model.
    """
    array = np.asarray(weight, dtype=np.float32)
    with np.printoptions(edgeitems=3, threshold=1000, linewidth=75, suppress=False, nanstr="nan", infstr="inf",
                         sign="-", floatmode="maxprec", formatter=None, legacy=False):
        text = np.array_str(array, precision=1)
    return hashlib.sha256(text.encode()).hexdigest()


def read_tuned_lens(path):
    """Read a tuned-lens package's lens folder.

    Returns
    -------
    weights : ndarray of shape (L, d, d), float32
    biases : ndarray of shape (L, d), float32
    config : dict
        ``config.json`` as written.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, or a file that is not such a lens (wrong keys, shapes or lens type), with what is wrong.
    """
    import torch

    folder = pathlib.Path(path)
    config_path, params_path = folder / CONFIG_FILE, folder / PARAMS_FILE
    for required in (config_path, params_path):
        if not required.is_file():
            raise FileNotFoundError(
                f"{str(folder)!r} is not a tuned-lens lens folder: it has no {required.name} (a lens saved by the "
                f"tuned-lens package has {CONFIG_FILE} and {PARAMS_FILE})."
            )
    config = json.loads(config_path.read_text())
    missing = [key for key in ("d_model", "num_hidden_layers") if key not in config]
    if missing:
        raise ValueError(f"{config_path} lacks {missing}: not a tuned-lens lens configuration.")
    if config.get("lens_type", LENS_TYPE) != LENS_TYPE:
        raise ValueError(f"{config_path} is a {config['lens_type']!r}; only a {LENS_TYPE!r} can be read.")
    n_layers, width = int(config["num_hidden_layers"]), int(config["d_model"])
    try:
        state = torch.load(params_path, map_location="cpu", weights_only=True)
    except Exception as error:  # an unpickler refusal or a corrupt file: say which file
        raise ValueError(f"{params_path} could not be read as a dict of tensors ({error}).") from error
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{params_path} is not a dict of tensors.")
    has_bias = bool(config.get("bias", True))
    expected = {f"{i}.weight" for i in range(n_layers)} | ({f"{i}.bias" for i in range(n_layers)} if has_bias else set())
    if set(state) != expected:
        extra, absent = sorted(set(state) - expected), sorted(expected - set(state))
        raise ValueError(f"{params_path} does not hold {n_layers} translators as config.json says: "
                         f"unexpected keys {extra[:4]}, missing keys {absent[:4]}.")
    weights = np.stack([state[f"{i}.weight"].float().numpy() for i in range(n_layers)]) if n_layers else \
        np.zeros((0, width, width), np.float32)
    biases = np.stack([state[f"{i}.bias"].float().numpy() if has_bias else np.zeros(width, np.float32)
                       for i in range(n_layers)]) if n_layers else np.zeros((0, width), np.float32)
    if weights.shape != (n_layers, width, width) or biases.shape != (n_layers, width):
        raise ValueError(f"{params_path} holds translators of shape {weights.shape[1:]} and biases of shape "
                         f"{biases.shape[1:]}, not ({width}, {width}) and ({width},) as config.json says.")
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(biases))):
        raise ValueError(f"{params_path} holds non-finite values.")
    return weights.astype(np.float32), biases.astype(np.float32), config


def write_tuned_lens(path, weights, biases, *, base_model_name_or_path, revision, unembed_hash):
    """Write translators as a tuned-lens package lens folder (float32), creating the folder."""
    import torch

    folder = pathlib.Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    state = {}
    for i, (weight, bias) in enumerate(zip(weights, biases)):
        state[f"{i}.weight"] = torch.tensor(np.asarray(weight, dtype=np.float32))
        state[f"{i}.bias"] = torch.tensor(np.asarray(bias, dtype=np.float32))
    torch.save(state, folder / PARAMS_FILE)
    config = {
        "base_model_name_or_path": base_model_name_or_path, "d_model": int(weights.shape[-1]),
        "num_hidden_layers": int(weights.shape[0]), "bias": True, "base_model_revision": revision,
        "unembed_hash": unembed_hash, "lens_type": LENS_TYPE,
    }
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    return folder
