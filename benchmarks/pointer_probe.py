"""Does the LLM's attention find the named shape, whatever its answer says?

    .venv/bin/python benchmarks/pointer_probe.py [--model DIR ...] [--episodes 200]

On click-shape's first screens (seeds 0 .. episodes-1, held out), each model reads the agent's
prompt with the screen; in every layer but the first, attention head 0 of the last prompt
position (the state that predicts the answer's first token: what `agent-sdk train
--pointer-weight` trains to look at the target) scores the image tokens, and its top token is
compared with the token under the named shape's centre. Chance is a top token drawn among the
tokens that hold a shape's centre (the mean of 1 / their number). A model whose head finds the
named shape well above chance has matched the instruction's words to the image, even where
its answers still miss (`first_click.py`): the coordinates are then what it has not learnt.
Prints a table and writes ``benchmarks/out/pointer_probe.json``.
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import torch
from _common import first_clicks, fmt, model_dataset, print_table, write_json

from agent_sdk.train.data import collate, model_pixels, pointer_scores
from agent_sdk.train.screens import token_of
from perception.zoo import zoo_model

ENV = "agent_sdk/ui-click-shape-v0"


def shape_tokens(seeds: list[int], grid: int) -> list[set[int]]:
    """Per seed, the image tokens that hold a shape's centre on click-shape's first screen."""
    env = gym.make(ENV)
    tokens = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        height, width = obs["image"].shape[:2]
        tokens.append({token_of(s.rect.x + s.rect.w / 2, s.rect.y + s.rect.h / 2, width, height,
                                grid) for s in env.unwrapped.task.shapes})  # fmt: skip
    env.close()
    return tokens


@torch.no_grad()
def head_top_tokens(
    model: Any, batch: dict[str, torch.Tensor], mean: Any, std: Any
) -> torch.Tensor:
    """Layers-1 x B: the image token (0 .. tokens-1) that attention head 0 of the last prompt
    position scores highest, in every layer but the first."""
    ids = batch["ids"]
    image = ids == model.config.image_token_id
    pixels = model_pixels(batch["pixels"], torch.device("cpu"), mean, std, False)
    feats = model.model.get_image_features(pixel_values=pixels).pooler_output
    embeds = model.get_input_embeddings()(torch.where(image, 0, ids))
    embeds = embeds.masked_scatter(image[..., None], feats.to(embeds.dtype))
    lm = model.model.language_model
    states = lm(inputs_embeds=embeds, attention_mask=batch["mask"].long(),
                output_hidden_states=True).hidden_states  # fmt: skip
    count = int(image[0].sum())
    image_at = image.float().argmax(-1)[:, None] + torch.arange(count)[None]  # B x tokens
    layers = pointer_scores(lm, states, batch["prompt_lens"] - 1)
    return torch.stack([scores.gather(1, image_at).argmax(-1) for scores in layers])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="checkpoint (repeat; default: shipped)")
    parser.add_argument("--episodes", type=int, default=200, help="seeds from 0, a screen each")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    examples = first_clicks(ENV, args.episodes)
    rows, payload = [], []
    for name in [str(m) for m in args.model or [zoo_model()]]:
        model, info, tokenizer, data, grid = model_dataset(name, examples)
        chance = sum(1 / len(t) for t in shape_tokens([ex.seed for ex in examples], grid))
        batches = (collate(data, list(range(start, min(start + 32, len(examples)))),
                           tokenizer.pad_token_id or 0)
                   for start in range(0, len(examples), 32))  # fmt: skip
        hits = sum((head_top_tokens(model, b, info.image_mean, info.image_std)
                    == b["cells"][None]).sum(1) for b in batches)  # fmt: skip
        per_layer = [int(h) for h in hits]
        payload.append({"model": name, "per_layer": per_layer, "chance": chance})
        rows.append([name, *(str(h) for h in per_layer), fmt(chance, ".1f")])
    layers = len(payload[0]["per_layer"])
    print_table(["model", *(f"layer {i + 1}" for i in range(1, layers + 1)), "chance"], rows,
                title=f"head 0 of the last prompt position on the named shape's token, of "
                      f"{len(examples)} held-out {ENV} first screens")  # fmt: skip
    print(write_json("pointer_probe", {"examples": len(examples), "rows": payload}))


if __name__ == "__main__":
    main()
