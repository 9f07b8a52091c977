"""How the checked-in story corpus was made (run once; the result ships in ``data/stories.json``).

``python -m sklearn_entropylens.datasets._generate`` asks the bundled SmolLM2-135M-Instruct (Apache-2.0)
for short children's stories on seeded combinations of characters and events, keeps those that end
cleanly and have 40 to 200 words, and writes them with their provenance. The stories are released with
the library under its BSD-3-Clause licence.
"""

import json
import pathlib
import re

import numpy as np

CHARACTERS = [
    "a little fox", "a brave girl named Mia", "an old fisherman", "a shy robot", "a curious cat",
    "a boy named Leo", "a tiny dragon", "a kind baker", "a lonely owl", "two best friends",
    "a clever mouse", "a young astronaut", "a grumpy bear", "a lost puppy", "a princess named Lily",
    "a farmer and his cow", "a small turtle", "a girl who loved books", "a playful dolphin", "a wise old tree",
]
EVENTS = [
    "finds a lost key", "learns to swim", "gets lost in the forest", "makes a new friend",
    "wants to fly", "bakes a cake for a party", "is afraid of the dark", "finds a treasure map",
    "plants a garden", "helps a friend in trouble", "goes to the beach", "loses a favourite toy",
    "sees snow for the first time", "builds a boat", "tells a lie and says sorry", "visits the moon",
    "meets a talking bird", "cannot sleep", "wins a race", "shares a big apple",
]


def _clean(text):
    text = re.sub(r"^\s*(title|once upon a time:)?[^\n]*:\s*\n", "", text, flags=re.IGNORECASE)
    text = re.sub(r"[*#_]", "", text)
    text = " ".join(text.split())
    end = max(text.rfind("."), text.rfind("!"), text.rfind("?"))
    text = text[: end + 1] if end > 0 else ""
    return text if 40 <= len(text.split()) <= 200 and text.isascii() else None


def generate_stories(n_stories=120, *, seed=0, batch_size=16, max_new_tokens=180):
    """Generate ``n_stories`` clean stories with the bundled model; returns a list of dicts."""
    import torch

    from ..models import load_model

    loaded = load_model("smollm2-135m")
    tokenizer, model = loaded.tokenizer, loaded.model
    rng = np.random.default_rng(seed)
    pairs = [(c, e) for c in CHARACTERS for e in EVENTS]
    order = rng.permutation(len(pairs))
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    stories = []
    try:
        for start in range(0, len(order), batch_size):
            chosen = [pairs[i] for i in order[start : start + batch_size]]
            requests = [f"Write a short story for young children about {c} who {e}." for c, e in chosen]
            texts = [
                tokenizer.apply_chat_template([{"role": "user", "content": r}], add_generation_prompt=True, tokenize=False)
                for r in requests
            ]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            torch.manual_seed(seed + start)
            with torch.inference_mode():
                out = model.generate(
                    **batch, do_sample=True, temperature=0.7, top_p=0.9, max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                )
            for (character, event), ids in zip(chosen, out[:, batch["input_ids"].shape[1] :]):
                story = _clean(tokenizer.decode(ids, skip_special_tokens=True))
                if story is not None:
                    stories.append({"character": character, "event": event, "story": story})
            if len(stories) >= n_stories:
                break
    finally:
        tokenizer.padding_side = side
    return stories[:n_stories]


if __name__ == "__main__":
    stories = generate_stories()
    path = pathlib.Path(__file__).parent / "data" / "stories.json"
    payload = {
        "description": "Short children's stories generated once by SmolLM2-135M-Instruct (bundled, Apache-2.0), "
        "sampled at temperature 0.7, top-p 0.9, seed 0; see sklearn_entropylens/datasets/_generate.py.",
        "license": "BSD-3-Clause (as the library)",
        "stories": stories,
    }
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"{len(stories)} stories written to {path}")
