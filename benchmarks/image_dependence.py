"""Does a trained model read its coordinates off the image? Per digit of the answer's point.

    .venv/bin/python benchmarks/image_dependence.py --model ckpt/small --data data/ui --examples 512
    .venv/bin/python benchmarks/image_dependence.py --model perception/zoo/fastvlm-agent-small \\
        --data data/ui-eval
    .venv/bin/python benchmarks/image_dependence.py --model ckpt/small --data data/ui --spotlight
    .venv/bin/python benchmarks/image_dependence.py --model ckpt/small --data data/ui --ground

Teacher-forced on ``--examples`` collected examples whose answer has a point (``click(x, y)``,
``drag(...)``, ``point_target(...)``): for the k-th digit of the answer (d0-d2: x hundreds,
tens, ones; d3-d5: y; or the values x and y for a model with ``--number-tokens``), the accuracy
and mean negative log-likelihood of the model's next-token prediction, once with each example's
own image and once with the images shuffled across the examples. A model that grounds has a far
lower NLL with the true image; equal columns mean the digits come from the text and the data's
marginal alone (what an image-blind model learns).
``--spotlight`` asks on spotlit images (`agent_sdk.train.Spotlight`: the target alone on a
flat screen), the easy case training starts from; ``--ground`` asks the grounding examples
(`agent_sdk.train.Grounding`: spotlit, one fixed instruction, a click on the point).
Prints a table and writes ``benchmarks/out/image_dependence.json``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from _common import add_example_args, collect_ui, fmt, print_table, write_json

from agent_sdk.collect import read_examples
from agent_sdk.train import Spotlight, build_dataset, collate, target_cell
from agent_sdk.train.model import has_number_tokens
from perception.checkpoints import load_fastvlm_torch, load_tokenizer
from perception.zoo import model_or_default

DIGITS = ("x hundreds", "x tens", "x ones", "y hundreds", "y tens", "y ones")


def digit_scores(model, data, tokenizer, image_order: Sequence[int], mean, std) -> list[list]:  # type: ignore[no-untyped-def]
    """Per example: (correct, nll) of each digit of the answer's first point, in order."""
    m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    out = []
    for start in range(0, len(data), 32):
        index = list(range(start, min(start + 32, len(data))))
        batch = collate(data, index, int(tokenizer.pad_token_id or 0))
        pixels = (data.pixels[[image_order[i] for i in index]].float() / 255 - m) / s
        with torch.no_grad():
            logits = model(input_ids=batch["ids"], pixel_values=pixels,
                           attention_mask=batch["mask"].long()).logits[:, :-1]  # fmt: skip
        targets, labels = batch["ids"][:, 1:], batch["labels"][:, 1:]
        for row in range(len(index)):
            pos = labels[row].nonzero().flatten()
            tokens = [tokenizer.decode([t]) for t in targets[row, pos].tolist()]
            logp = torch.log_softmax(logits[row, pos].float(), -1)
            scores = [
                (bool(logp[j].argmax() == targets[row, p]), float(-logp[j, targets[row, p]]))
                for j, (p, tok) in enumerate(zip(pos, tokens, strict=True))
                if tok.isdigit()
            ]
            out.append(scores[:6])  # digits, or the two values (number tokens)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a checkpoint folder (default: the shipped model)")
    add_example_args(parser, examples=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ground", action="store_true", help="as grounding examples (spotlit)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.model = str(model_or_default(args.model))
    scratch = tempfile.TemporaryDirectory()
    if args.data is None:
        args.data = str(collect_ui(Path(scratch.name) / "ui-heldout"))
    model, info = load_fastvlm_torch(args.model)
    tokenizer = load_tokenizer(args.model)
    pointed = (ex for ex in read_examples(args.data) if target_cell(ex.target, 1, 1, 1) >= 0)
    examples = list(itertools.islice(pointed, args.examples))
    tokens = model.config.image_seq_length
    data = build_dataset(examples, tokenizer, model.config.image_token_id,
                         math.isqrt(tokens) * 64, tokens, info.image_mean,
                         ground=args.ground)  # fmt: skip
    if args.ground:  # every example here has a point, so a grounding form
        data.ids = data.ground_ids  # type: ignore[assignment]
        data.prompt_lens = [data.ground_prompt_len] * len(data)
    if args.spotlight or args.ground:
        light = Spotlight(1.0, np.random.default_rng(args.seed))
        for i in range(len(data)):
            data.pixels[i] = light(data, i)
    own = list(range(len(data)))
    shuffled = [int(i) for i in np.random.default_rng(args.seed).permutation(len(data))]
    true_scores = digit_scores(model, data, tokenizer, own, info.image_mean, info.image_std)
    shuf_scores = digit_scores(model, data, tokenizer, shuffled, info.image_mean, info.image_std)
    rows, payload = [], []
    names = ("x", "y") if has_number_tokens(tokenizer) else DIGITS  # one token per value
    for k, name in enumerate(names):
        t = [s[k] for s in true_scores if len(s) > k]
        f = [s[k] for s in shuf_scores if len(s) > k]
        if not t:
            continue
        row = {"digit": name, "n": len(t), "acc_true": float(np.mean([c for c, _ in t])),
               "acc_shuffled": float(np.mean([c for c, _ in f])),
               "nll_true": float(np.mean([n for _, n in t])),
               "nll_shuffled": float(np.mean([n for _, n in f]))}  # fmt: skip
        payload.append(row)
        rows.append([name, row["n"], fmt(row["acc_true"], ".2f"), fmt(row["acc_shuffled"], ".2f"),
                     fmt(row["nll_true"], ".2f"), fmt(row["nll_shuffled"], ".2f")])  # fmt: skip
    how = " (grounding examples)" if args.ground else " (spotlit)" if args.spotlight else ""
    title = f"{args.model} on {args.data}{how}"
    print_table(["digit", "examples", "acc (own image)", "acc (shuffled)", "NLL (own)",
                 "NLL (shuffled)"], rows, title=title)  # fmt: skip
    scratch.cleanup()
    print(
        write_json(
            "image_dependence",
            {
                "model": args.model,
                "data": args.data,
                "spotlight": args.spotlight,
                "ground": args.ground,
                "rows": payload,
            },
        )
    )


if __name__ == "__main__":
    main()
