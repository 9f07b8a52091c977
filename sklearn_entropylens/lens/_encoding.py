"""Input encoding: prompts to token ids, the canonical batching order, left-padded batches, and back to text."""

import functools
import re
import unicodedata
import warnings

import torch

from .._validation import user_stacklevel


def encode_prompts(loaded, prompts, *, n_tokens, chat_template=False, truncation=None):
    """Tokenize prompts for profiling.

    Parameters
    ----------
    loaded : LoadedModel
        The model and tokenizer.
    prompts : list of str
        Validated prompts.
    n_tokens : int
        Number of profiled positions; the prompt plus ``n_tokens - 1`` generated tokens must fit the
        model's context.
    chat_template : bool, default=False
        Wrap each prompt as a user message with the tokenizer's chat template.
    truncation : {None, "left"}, default=None
        What to do with a prompt too long for the context: raise (None) or keep its end (``"left"``).

    Returns
    -------
    token_ids : list of list of int
        Token ids of each prompt; an empty prompt is the BOS token alone (EOS without a BOS).
    """
    tokenizer = loaded.tokenizer
    if chat_template and not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"chat_template=True, but the tokenizer of {loaded.name!r} has no chat template.")
    limit = None
    if loaded.context_length is not None:
        limit = loaded.context_length - (n_tokens - 1)
        if limit < 1:
            raise ValueError(
                f"n_tokens={n_tokens} does not fit the context of {loaded.name!r} "
                f"({loaded.context_length} tokens)."
            )
    start_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    encoded, truncated = [], []
    for index, prompt in enumerate(prompts):
        if chat_template:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True
            )
            if not isinstance(ids, list):
                ids = ids["input_ids"]
        else:
            ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        ids = list(ids)
        if not ids:
            if start_id is None:
                raise ValueError(f"Prompt {index} is empty and the tokenizer has neither a BOS nor an EOS token.")
            ids = [start_id]
        if limit is not None and len(ids) > limit:
            if truncation != "left":
                raise ValueError(
                    f"Prompt {index} has {len(ids)} tokens; with n_tokens={n_tokens} it exceeds the "
                    f"{loaded.context_length}-token context of {loaded.name!r}. Shorten it, lower "
                    "n_tokens, or pass truncation='left' to keep its last tokens."
                )
            ids = ids[-limit:]
            truncated.append(index)
        encoded.append(ids)
    if truncated:
        warnings.warn(
            f"{len(truncated)} prompt(s) (first: index {truncated[0]}) were longer than the context "
            f"allows and were truncated from the left to {limit} tokens.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return encoded


def left_padded_batch(loaded, batch_ids):
    """Left-pad token ids into ``(input_ids, attention_mask, position_ids)`` on the model's device.

    Position ids count real tokens only, so a prompt's numbers do not depend on its batch mates.
    """
    batch = len(batch_ids)
    width = max(len(ids) for ids in batch_ids)
    pad_id = loaded.tokenizer.pad_token_id
    pad_id = pad_id if pad_id is not None else (loaded.tokenizer.eos_token_id or 0)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)
    for row, ids in enumerate(batch_ids):
        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, width - len(ids) :] = 1
    input_ids, attention_mask = input_ids.to(loaded.device), attention_mask.to(loaded.device)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return input_ids, attention_mask, position_ids


def canonical_order(token_ids, seeds=None):
    """The order in which prompts are batched: by length, then content, then seed.

    Similar lengths share a batch, so little compute is spent on padding; ordering by content too makes
    the batches, hence the floating-point rounding, independent of the order of the input.
    """
    seeds = [0] * len(token_ids) if seeds is None else seeds
    return sorted(range(len(token_ids)), key=lambda i: (len(token_ids[i]), token_ids[i], seeds[i]))


_VISIBLE_WHITESPACE = {" ": "\u2423", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


@functools.lru_cache(maxsize=1)
def _byte_of_character():
    """Inverse of the byte-level BPE alphabet (GPT-2, Llama 3, SmolLM2): one printable character per byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(
        range(ord("\xae"), ord("\xff") + 1)
    )
    characters, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            characters[chr(byte)] = byte
        else:
            characters[chr(256 + extra)] = byte
            extra += 1
    return characters


def token_text(tokenizer, token_id):
    """The text of one token, with bytes that are not a whole character written ``<0xNN>``.

    Byte-fallback tokens of SentencePiece vocabularies (Gemma, Llama 2) are already named ``<0xE3>``;
    byte-level BPE tokens (GPT-2, SmolLM2) spell their bytes in a printable alphabet and are decoded
    byte by byte, so a token holding part of a multi-byte character shows its bytes, not "\ufffd".
    """
    text = tokenizer.decode([int(token_id)])
    if "\ufffd" not in text:
        return text
    raw = tokenizer.convert_ids_to_tokens(int(token_id))
    if isinstance(raw, str) and re.fullmatch(r"<0x[0-9A-Fa-f]{2}>", raw):
        return f"<0x{raw[3:5].upper()}>"
    byte_of = _byte_of_character()
    if isinstance(raw, str) and raw and all(character in byte_of for character in raw):
        decoded = bytes(byte_of[character] for character in raw).decode("utf-8", errors="surrogateescape")
        # surrogateescape maps each undecodable byte b to the code point U+DC00 + b.
        return "".join(f"<0x{ord(c) - 0xDC00:02X}>" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in decoded)
    return text


def readable_token(text):
    r"""A token's text as an axis label: spaces as a visible space, line breaks and tabs as escapes.

    Examples
    --------
    >>> from sklearn_entropylens.lens._encoding import readable_token
    >>> readable_token(" Paris"), readable_token("\n"), readable_token(""), readable_token("\x00")
    ('␣Paris', '\\n', '∅', '\\x00')
    """
    shown = []
    for character in text:
        if character in _VISIBLE_WHITESPACE:
            shown.append(_VISIBLE_WHITESPACE[character])
        elif unicodedata.category(character) in ("Cc", "Cf", "Zs", "Zl", "Zp"):
            shown.append(f"\\x{ord(character):02x}" if ord(character) < 256 else f"\\u{ord(character):04x}")
        else:
            shown.append(character)
    return "".join(shown) or "\u2205"
