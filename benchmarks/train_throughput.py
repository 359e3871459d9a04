"""Training throughput: model sizes, input resolutions, channels_last, bf16, threads.

    .venv/bin/python benchmarks/train_throughput.py                 # the default grid, ~10 min
    .venv/bin/python benchmarks/train_throughput.py --batch 32 --repeats 5 --threads 1 2
    .venv/bin/python benchmarks/train_throughput.py --compile       # adds torch.compile rows
    python benchmarks/train_throughput.py --device cuda --batch 256 --only "small 320 px bf16"

Each row is one full optimizer step of ``agent_sdk.train`` (vision tower, projector, Qwen2,
answer-only loss, backward, AdamW; the frozen-tower row: projector and Qwen2 on the tower's
features computed once, as ``--freeze-tower`` trains) on real GUI-suite examples (one oracle
episode per task, collected in memory), at batch ``--batch``. The rows are timed in interleaved
rounds (``_common.time_calls``), so drift on a shared machine hits them alike and their ratios hold
even when the absolute numbers are pessimistic; the median of ``--repeats`` rounds is shown as
samples/s and relative to the first row. ``--device cuda`` times the step on a GPU (the batches
already built, so the model's part alone: set it beside ``benchmarks/train_feed.py``'s batch
building to see which one sets a run's pace). Prints a table and writes
``benchmarks/out/train_throughput.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
from collections.abc import Callable
from dataclasses import replace

import torch
from _common import fmt, print_table, time_calls, torch_threads, write_json

import envs
from agent_sdk.collect import CollectConfig, rollouts
from agent_sdk.train import (
    SIZES,
    ModelSize,
    answer_loss,
    build_dataset,
    collate,
    model_config,
    tower_features,
    train_tokenizer,
)
from agent_sdk.train.model import new_model
from perception.prompts import chat_prompt

FROZEN = "small 320 px frozen tower"  # `--freeze-tower`: steps on the tower's features
VARIANTS = (  # (label, size name, image size, channels_last, bf16)
    ("small 256 px", "small", 256, False, False),
    ("small 256 px channels_last", "small", 256, True, False),
    ("small 256 px bf16", "small", 256, False, True),
    ("small 256 px channels_last bf16", "small", 256, True, True),
    ("small 192 px channels_last", "small", 192, True, False),
    ("small 320 px channels_last", "small", 320, True, False),
    ("small 320 px bf16", "small", 320, True, True),  # channels_last: what CUDA runs train
    (FROZEN, "small", 320, True, False),
    ("small 128 px channels_last", "small", 128, True, False),
    ("base 256 px channels_last", "base", 256, True, False),
)


def _step_fn(size: ModelSize, examples, tokenizer, batch: int, channels_last: bool, bf16: bool,
             compile_: bool, device: torch.device,
             frozen: bool = False) -> tuple[Callable[[], object], int]:  # fmt: skip
    torch.manual_seed(0)
    config = model_config(size, tokenizer, inference_mode=False)  # what `agent-sdk train` trains
    model = new_model(config).to(device).train()
    if channels_last:
        model.model.vision_tower.to(memory_format=torch.channels_last)
    if compile_:
        model.model.vision_tower = torch.compile(model.model.vision_tower)
    data = build_dataset(examples, tokenizer, config.image_token_id, size.image_size,
                         config.image_seq_length)  # fmt: skip
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    batches = [collate(data, [(i + j) % len(data) for j in range(batch)], 0)
               for i in range(0, len(data), batch)]  # fmt: skip
    if frozen:  # the features computed once, as `--freeze-tower` does
        model.model.vision_tower.eval().requires_grad_(False)
        for b in batches:
            b["features"] = tower_features(model, b.pop("pixels"), channels_last=channels_last)
    state = {"i": 0}

    def step() -> None:
        b = batches[state["i"] % len(batches)]
        state["i"] += 1
        ctx = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16
               else contextlib.nullcontext())  # fmt: skip
        with ctx:
            loss, _ = answer_loss(model, b, channels_last=channels_last)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(loss)  # waits for the device, as the training loop's logging does

    return step, sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    parser.add_argument("--only", nargs="*", help="labels of the variants to run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    args = parser.parse_args()
    device = torch.device(args.device)

    collect = CollectConfig(env_ids=envs.UI_SUITE, episodes=1, noise=0.0)
    examples = [ex for episode in rollouts(collect) for ex in episode.examples]
    texts = sorted({chat_prompt(ex.prompt) + ex.target for ex in examples})
    variants = [v for v in VARIANTS if not args.only or v[0] in args.only]
    if args.compile:
        variants.append(("small 256 px channels_last compiled", "small", 256, True, False))
    rows, results = [], []
    for threads in args.threads:
        fns, params = {}, {}
        for label, name, image_size, cl, bf16 in variants:
            size = replace(SIZES[name], image_size=image_size)
            tokenizer = train_tokenizer(texts, size.vocab_size)
            fns[label], params[label] = _step_fn(
                size,
                examples,
                tokenizer,
                args.batch,
                cl,
                bf16,
                "compiled" in label,
                device,
                label == FROZEN,
            )
        with torch_threads(threads):
            timings = time_calls(fns, warmup=1, repeats=args.repeats)
        base = timings[variants[0][0]].median_s
        for label, timing in timings.items():
            rate = args.batch / timing.median_s
            speedup = base / timing.median_s
            rows.append([label, threads, f"{params[label] / 1e6:.2f}M", fmt(timing.median_s),
                         fmt(rate, ".1f"), fmt(speedup, ".2f")])  # fmt: skip
            results.append({"variant": label, "threads": threads, "parameters": params[label],
                            "step_s": timing.samples_s, "samples_per_s": rate,
                            "speedup": speedup})  # fmt: skip
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print_table(["variant", "threads", "params", "step s", "samples/s", "x first"], rows,
                title=f"Training step on {device}, batch {args.batch}, {len(examples)} GUI "
                      f"examples (peak RSS {peak_gb:.1f} GB)")  # fmt: skip
    path = write_json("train_throughput", {"batch": args.batch, "device": str(device),
                                           "examples": len(examples),
                                           "peak_rss_gb": peak_gb, "results": results})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
