"""Where a model runs and in which dtype: ``"auto"`` resolved on this machine."""


def resolve_device(device):
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is visible, else ``"cpu"``; return a torch.device."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto' or a torch device string like 'cpu' or 'cuda:0', got {device!r}.") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r}, but torch sees no CUDA GPU (torch {torch.__version__}); use 'cpu' or 'auto'.")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}, but torch sees only {torch.cuda.device_count()} CUDA device(s).")
    return resolved



def dtype_name(dtype):
    """A torch dtype's short name: ``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def resolve_dtype(dtype, device):
    """Turn ``"auto"`` into float32 on CPU and bfloat16 on GPU; accept names and torch dtypes."""
    import torch

    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    else:
        resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
        raise ValueError(
            f"dtype must be 'auto' or a floating torch dtype name like 'float32' or 'bfloat16', got {dtype!r}."
        )
    return resolved
