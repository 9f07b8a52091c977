"""Hints for an identifier that does not load: the known names, the closest ones, whether the hub answers."""

import pathlib

from ._catalogue import BUNDLED_MODELS


def known_names(registered=()):
    names = list(BUNDLED_MODELS) + sorted(registered)
    return ", ".join(repr(n) for n in names)



def _cached_hub_ids():
    """Model ids in the local Hugging Face cache (read from its folder names; no network)."""
    try:
        from huggingface_hub import constants

        root = pathlib.Path(constants.HF_HUB_CACHE)
        return sorted(d.name[len("models--"):].replace("--", "/") for d in root.glob("models--*") if d.is_dir())
    except (ImportError, OSError, AttributeError):
        return []



def suggestion(name, registered=()):
    """' Did you mean ...?' naming the known identifiers closest to ``name``, or ''."""
    import difflib

    candidates = list(BUNDLED_MODELS) + sorted(registered) + _cached_hub_ids()
    folded = {candidate.lower(): candidate for candidate in candidates}
    close = difflib.get_close_matches(name.lower(), list(folded), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(folded[c]) for c in close)}?" if close else ""



def hub_reachable(timeout=3.0):
    """Whether the Hugging Face endpoint accepts a TCP connection within ``timeout`` seconds.

    The hub client retries an unreachable server for about 50 s; this probe answers in milliseconds on
    an offline machine. Behind a proxy the direct probe says nothing, so the hub is assumed reachable.
    """
    import socket
    import urllib.parse
    import urllib.request

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if urllib.request.getproxies().get("https"):
        return True
    endpoint = urllib.parse.urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True



def describe_model_argument(model, registered=()):
    """Why ``model`` is not a usable identifier, in one line that says what to do (no long reprs)."""
    if hasattr(model, "config") and hasattr(model, "forward"):
        return (
            f"model must be a string identifier, not a loaded {type(model).__name__} object: register it once "
            "with register_model('my-model', model, tokenizer) and pass model='my-model' (weights are never "
            "stored in an estimator)."
        )
    shown = repr(model)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"model must be a non-empty string identifier, got {type(model).__name__} {shown}. Known: {known_names(registered)}."



def looks_like_path(name):
    """A filesystem path rather than a hub id (``name`` or ``org/name``: at most one slash)."""
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1
