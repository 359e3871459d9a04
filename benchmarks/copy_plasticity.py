"""Whether a model's LLM can still learn to copy text from its prompt: the typing tasks' need.

    .venv/bin/python benchmarks/copy_plasticity.py [--model DIR] [--keep 1 0] [--steps 600]
        [--batch 32] [--every 100] [--data DIR ...] [--threads 1]

The typing steps (`agent_sdk.train.copies`: the answer types a text the instruction spells out,
``Enter "Sergio" into...`` answered ``type_text("Sergio")``) get new letters every time they are
drawn (`agent_sdk.train.CopyText`'s `scramble`), so only copying from the prompt answers them.
For each ``--keep`` value the model's LLM is trained on them alone, text only (the prompt
without its image, then the answer; loss on the answer): 1 is the LLM as it is, 0 a new LLM of
its config, and between them `agent_sdk.train.model.shrink_llm` (each weight ``keep`` times its
own plus the rest a new init's). Every ``--every`` steps it scores 128 held-out drawn examples:
the answer tokens' accuracy and the share answered exactly (every token right given the ones
before: what greedy decoding types). Answers that write ``type_text("...")`` but copy no letter
score about 0.4 token accuracy and 0 exact. Default data: the GUI suite's
enter-text and fill-form on training seeds, collected now. Writes
``benchmarks/out/copy_plasticity.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import print_table, torch_threads, write_json

from agent_sdk.collect import CollectConfig, collect, read_examples
from agent_sdk.prompting import step_prompt
from agent_sdk.train.data import copied_text, encode_example, label_mask, with_new_letters
from agent_sdk.train.model import shrink_llm
from perception.checkpoints import load_fastvlm_torch, load_tokenizer
from perception.zoo import model_or_default

TYPING_ENVS = ("agent_sdk/ui-enter-text-v0", "agent_sdk/ui-fill-form-v0")


def typing_steps(folders: list[str]) -> list[tuple[str, tuple[str, ...], str]]:
    """(instruction, history, answer) of every example whose answer copies typed text."""
    return [(ex.instruction, ex.history, ex.target) for ex in read_examples(folders, images=False)
            if not ex.robot and copied_text(ex.instruction, ex.history, ex.target)]  # fmt: skip


def drawn(step: tuple[str, tuple[str, ...], str], rng: np.random.Generator) -> tuple[str, str]:
    """``step``'s prompt and answer with new letters for its typed texts."""
    renamed = with_new_letters(*step, rng)
    assert renamed is not None  # typing steps spell their text out
    instruction, history, answer = renamed
    return step_prompt(instruction, history), answer


def batch(
    tokenizer, steps, rng: np.random.Generator, n: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """ids, learnt positions (`label_mask`: the answer) and attention mask of ``n`` drawn
    examples."""
    rows = [encode_example(tokenizer, *drawn(steps[i], rng), 0, 0)  # text only: no image
            for i in rng.integers(len(steps), size=n)]  # fmt: skip
    lengths = [len(seq) for seq, _ in rows]
    ids = torch.zeros(n, max(lengths), dtype=torch.long)
    for k, (seq, _) in enumerate(rows):
        ids[k, : len(seq)] = torch.tensor(seq)
    attention = torch.arange(ids.shape[1])[None] < torch.tensor(lengths)[:, None]
    return ids, label_mask(ids, [p for _, p in rows], lengths), attention.long()


def scores(llm, head, ids, learnt, attention) -> tuple[torch.Tensor, float, float]:
    """Loss, answer-token accuracy and exact-answer share (teacher forced)."""
    logits = head(llm(input_ids=ids, attention_mask=attention).last_hidden_state)[:, :-1]
    target, on = ids[:, 1:], learnt[:, 1:]
    loss = torch.nn.functional.cross_entropy(logits[on], target[on])
    hit = logits.argmax(-1) == target
    accuracy = float((hit & on).sum() / on.sum())
    return loss, accuracy, float((hit | ~on).all(dim=1).float().mean())


def curve(model_dir: Path, keep: float, steps, args) -> list[tuple[int, float, float, float]]:
    """[step, held-out loss, token accuracy, exact share] while training the LLM at ``keep``."""
    model, _ = load_fastvlm_torch(model_dir, dtype=torch.float32)
    tokenizer = load_tokenizer(model_dir)
    shrink_llm(model, keep, seed=args.seed)
    llm, head = model.model.language_model, model.lm_head
    params = [p for name, p in model.named_parameters()  # the tied head counted once
              if name.startswith(("model.language_model.", "lm_head."))]  # fmt: skip
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    test = batch(tokenizer, steps, np.random.default_rng(10**6), 128)
    rng = np.random.default_rng(args.seed)
    rows, start = [], time.perf_counter()
    for step in range(args.steps + 1):
        if step % args.every == 0:
            with torch.no_grad():
                loss, accuracy, exact = scores(llm, head, *test)
            rows.append((step, float(loss), accuracy, exact))
            print(f"keep {keep}: step {step} loss {float(loss):.3f} token accuracy "
                  f"{accuracy:.3f} exact {exact:.3f} ({time.perf_counter() - start:.0f} s)",
                  flush=True)  # fmt: skip
        if step == args.steps:
            break
        loss, _, _ = scores(llm, head, *batch(tokenizer, steps, rng, args.batch))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--keep", type=float, nargs="+", default=[1.0, 0.0])
    parser.add_argument("--data", action="append", default=None, help="data folder (repeat)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    model_dir = Path(model_or_default(args.model))
    with tempfile.TemporaryDirectory() as scratch:
        folders = args.data
        if folders is None:
            folders = [str(Path(scratch) / "typing")]
            collect(CollectConfig(env_ids=TYPING_ENVS, episodes=20, noise=0.0), folders[0])
        steps = typing_steps(folders)
    if not steps:
        raise SystemExit(f"no typing steps in {', '.join(folders)}: give data with enter-text, "
                         "fill-form or login-user episodes")  # fmt: skip
    print(f"{len(steps)} typing steps from {', '.join(folders)}; model {model_dir}")
    with torch_threads(args.threads):
        curves = {keep: curve(model_dir, keep, steps, args) for keep in args.keep}
    header = ["step", *(f"keep {k}: acc / exact" for k in args.keep)]
    table = [[str(row[0]), *(f"{curves[k][i][2]:.3f} / {curves[k][i][3]:.3f}" for k in args.keep)]
             for i, row in enumerate(curves[args.keep[0]])]  # fmt: skip
    print_table(header, table)
    write_json("copy_plasticity", {"model": str(model_dir), "config": vars(args),
                                   "typing_steps": len(steps),
                                   "curves": {str(k): v for k, v in curves.items()}})  # fmt: skip


if __name__ == "__main__":
    main()
