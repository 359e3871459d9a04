"""Time to first token vs input resolution: FastViTHD against ViT and ConvNeXt encoders.

    .venv/bin/python benchmarks/ttft_vs_resolution.py                    # fp32, ~5-7 min here
    .venv/bin/python benchmarks/ttft_vs_resolution.py --quick            # 256, 512, 1024 px
    .venv/bin/python benchmarks/ttft_vs_resolution.py --dtype bf16 --repeats 5
    .venv/bin/python benchmarks/ttft_vs_resolution.py --max-tokens 3000  # ViTs to 768 px, ~15 min
    .venv/bin/python benchmarks/ttft_vs_resolution.py --threads 2 --resolutions 512,1024

TTFT = vision encode (timm backbone + 2-layer GELU MLP projector to 896) + LLM prefill of
(image tokens + ``--prompt-tokens`` text tokens) through a Qwen2-0.5B-shaped
``Qwen2ForCausalLM`` (SDPA attention, KV cache on, logits for the last position only).
Random weights, batch 1, CPU, ``torch.inference_mode``, ``--threads`` torch threads (default 1,
see ``_common.torch_threads``). Each cell: a warm-up, then the median of up to ``--repeats``
calls (fewer once a cell's timed calls pass ``--cell-budget-s``). Prefill depends only on the
token count, so it is timed once per count and shared by the cells with that count.

Encoders (tokens at resolution r): FastViTHD = timm ``fastvit_mci3`` (``inference_mode=True``)
with its final conv (3072 channels, (r/64)^2); ViT-L/14 CLIP and SigLIP-SO400M (r/14)^2, the
position embedding resampled to r; ConvNeXt-L final map (r/32)^2. Each encoder is also timed
at its reference resolution: FastViTHD 1024, CLIP 336, SigLIP 384, ConvNeXt-L 768 (576 tokens,
as CLIP at 336). Cells with more than ``--max-tokens`` image tokens (default 1000, which keeps
the default run under 10 minutes on 2 shared cores) are skipped and shown as ``-``.

Prints three tables (cells; ratios at the reference resolutions beside the FastVLM paper's
claims; same-resolution ratios) and writes ``benchmarks/out/ttft_vs_resolution.{json,png}``.
"""

from __future__ import annotations

import argparse
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from _common import (
    OUT_DIR,
    fmt,
    print_table,
    pyplot,
    save_figure,
    time_calls,
    torch_threads,
    write_json,
)
from torch import nn
from transformers import Qwen2Config, Qwen2ForCausalLM

LLM_WIDTH = 896  # Qwen2-0.5B hidden size: the projector's output width
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class EncoderSpec:
    name: str  # label in tables and plots
    timm_name: str
    stride: int  # input pixels per output token, along one side
    reference: int  # the resolution this encoder is used at in its VLM
    paper: str  # what the FastVLM paper says about this point

    def tokens(self, res: int) -> int:
        return (res // self.stride) ** 2


ENCODERS = [
    EncoderSpec("FastViTHD", "fastvit_mci3", 64, 1024, "256 tokens at 1024 px"),
    EncoderSpec(
        "ViT-L/14 CLIP",
        "vit_large_patch14_clip_336",
        14,
        336,
        "3.2x TTFT vs ViT-L/14 (LLaVA-1.5 setup)",
    ),
    EncoderSpec("SigLIP-SO400M", "vit_so400m_patch14_siglip_384", 14, 384, ""),
    EncoderSpec("ConvNeXt-L", "convnext_large", 32, 768, ""),
]
BASELINE = ENCODERS[0]


class VisionTower(nn.Module):
    """timm backbone -> (1, tokens, width) -> GELU MLP projector -> (1, tokens, 896)."""

    def __init__(self, spec: EncoderSpec) -> None:
        super().__init__()
        kwargs = {"inference_mode": True} if spec.timm_name.startswith("fastvit") else {}
        self.backbone = timm.create_model(spec.timm_name, pretrained=False, num_classes=0, **kwargs)
        width = self.backbone.num_features
        self.projector = nn.Sequential(
            nn.Linear(width, LLM_WIDTH), nn.GELU(), nn.Linear(LLM_WIDTH, LLM_WIDTH)
        )

    def set_resolution(self, res: int) -> None:
        if hasattr(self.backbone, "set_input_size"):  # ViTs: resample the position embedding
            self.backbone.set_input_size(img_size=(res, res))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.backbone.forward_features(image)
        if features.ndim == 4:  # conv map (1, C, h, w) -> (1, h*w, C)
            features = features.flatten(2).transpose(1, 2)
        else:  # ViT tokens: drop the class token, if any
            features = features[:, getattr(self.backbone, "num_prefix_tokens", 0) :]
        return self.projector(features)


def build_llm(dtype: torch.dtype) -> Qwen2ForCausalLM:
    """Qwen2-0.5B's shape with random weights."""
    config = Qwen2Config(
        hidden_size=LLM_WIDTH,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        intermediate_size=4864,
        vocab_size=151936,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
    )
    config._attn_implementation = "sdpa"
    return Qwen2ForCausalLM(config).to(dtype).eval()


def prefill_call(llm: Qwen2ForCausalLM, image_tokens: int, prompt_tokens: int, dtype):
    image = torch.randn(1, image_tokens, LLM_WIDTH, dtype=dtype) * 0.02
    prompt_ids = torch.randint(0, llm.config.vocab_size, (1, prompt_tokens))

    def run():
        embeds = torch.cat([image, llm.get_input_embeddings()(prompt_ids)], dim=1)
        return llm(inputs_embeds=embeds, use_cache=True, logits_to_keep=1)

    return run


def plot(rows: list[dict], resolutions: list[int], out_dir: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharex=True)
    for spec in ENCODERS:
        cells = sorted((r for r in rows if r["encoder"] == spec.name), key=lambda r: r["res"])
        cells = [r for r in cells if r["ttft_s"] is not None]
        for ax, key in zip(axes, ("encode_s", "prefill_s", "ttft_s"), strict=True):
            (line,) = ax.plot([r["res"] for r in cells], [r[key] for r in cells], "o-")
            line.set_label(spec.name)
            ref = [r for r in cells if r["res"] == spec.reference]
            ax.plot([r["res"] for r in ref], [r[key] for r in ref], "*", ms=14, c=line.get_color())
    titles = ("vision encode + projector", "LLM prefill (image + prompt tokens)", "TTFT")
    for ax, title in zip(axes, titles, strict=True):
        ax.set(title=title, xlabel="input resolution (px)", yscale="log", xticks=resolutions)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds (median)")
    axes[0].legend(title="★ reference resolution")
    return save_figure(fig, "ttft_vs_resolution", out_dir)


def measure(args: argparse.Namespace, resolutions: list[int]) -> tuple[list[dict], dict]:
    """One row per (encoder, resolution); prefill samples keyed by image-token count."""
    dtype = DTYPES[args.dtype]
    timing = {"warmup": args.warmup, "repeats": args.repeats, "budget_s": args.cell_budget_s}
    llm = build_llm(dtype)
    prefill: dict[int, list[float]] = {}
    rows = []
    for spec in ENCODERS:
        tower = None  # built on first use, so an encoder whose cells are all skipped costs nothing
        for res in sorted({*resolutions, spec.reference}):
            tokens = spec.tokens(res)
            row = {"encoder": spec.name, "res": res, "tokens": tokens}
            row |= {"reference": res == spec.reference, "encode_s": None, "prefill_s": None}
            row |= {"ttft_s": None, "encode_samples_s": []}
            rows.append(row)
            if tokens > args.max_tokens:
                print(f"{spec.name:<14} {res:>5} px {tokens:>6} tokens  skipped (--max-tokens)")
                continue
            if tower is None:
                tower = VisionTower(spec).to(dtype).eval()
            tower.set_resolution(res)
            image = torch.randn(1, 3, res, res, dtype=dtype)
            with torch.inference_mode(), torch_threads(args.threads):
                assert tower(image).shape[1] == tokens, (spec.name, res)
                encode = time_calls({"encode": lambda t=tower, x=image: t(x)}, **timing)["encode"]
                if tokens not in prefill:  # prefill cost depends on the token count only
                    call = prefill_call(llm, tokens, args.prompt_tokens, dtype)
                    prefill[tokens] = time_calls({"prefill": call}, **timing)["prefill"].samples_s
            row["encode_s"] = encode.median_s
            row["encode_samples_s"] = encode.samples_s
            row["prefill_s"] = statistics.median(prefill[tokens])
            row["ttft_s"] = row["encode_s"] + row["prefill_s"]
            row["load_1min"] = os.getloadavg()[0]  # other processes on the machine add noise
            print(
                f"{spec.name:<14} {res:>5} px {tokens:>6} tokens  encode {row['encode_s']:.3f} s"
                f" ({len(encode.samples_s)} timed)  prefill {row['prefill_s']:.3f} s"
                f"  load {row['load_1min']:.1f}",
                flush=True,
            )
        del tower
    base = next(r for r in rows if r["encoder"] == BASELINE.name and r["res"] == BASELINE.reference)
    for row in rows:
        row["ttft_vs_fastvithd_1024"] = row["ttft_s"] / base["ttft_s"] if row["ttft_s"] else None
    return rows, prefill


def report(rows: list[dict], resolutions: list[int], args: argparse.Namespace) -> None:
    print_table(
        ["encoder", "res", "tokens", "encode_s", "prefill_s", "ttft_s", "x FastViTHD@1024"],
        [
            [
                r["encoder"] + (" *" if r["reference"] else ""),
                r["res"],
                r["tokens"],
                fmt(r["encode_s"]),
                fmt(r["prefill_s"]),
                fmt(r["ttft_s"]),
                fmt(r["ttft_vs_fastvithd_1024"], ".2f"),
            ]
            for r in rows
        ],
        title=f"TTFT per encoder and resolution ({args.dtype}, CPU, {args.threads} thread(s), "
        f"batch 1, +{args.prompt_tokens} prompt tokens; * = reference resolution)",
    )
    paper = {spec.name: spec.paper for spec in ENCODERS}
    print_table(
        ["encoder @ reference res", "tokens", "ttft_s", "TTFT / FastViTHD@1024", "paper claim"],
        [
            [
                f"{r['encoder']} @ {r['res']}",
                r["tokens"],
                fmt(r["ttft_s"]),
                fmt(r["ttft_vs_fastvithd_1024"], ".2f"),
                paper[r["encoder"]],
            ]
            for r in rows
            if r["reference"]
        ],
        title="Ratios at the reference resolutions (the paper timed an M1 Mac and its own LLMs)",
        align="lrrrl",
    )
    ttft = {(r["encoder"], r["res"]): r["ttft_s"] for r in rows}

    def same_res(name: str, res: int) -> float | None:
        mine, base = ttft.get((name, res)), ttft.get((BASELINE.name, res))
        return mine / base if mine and base else None

    print_table(
        ["TTFT / FastViTHD, same res"] + [f"{res} px" for res in resolutions],
        [[s.name] + [fmt(same_res(s.name, res), ".2f") for res in resolutions] for s in ENCODERS],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", default="256,512,768,1024,1280,1536")
    parser.add_argument("--quick", action="store_true", help="only 256,512,1024 px")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per cell (at most)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per cell")
    parser.add_argument(
        "--cell-budget-s",
        type=float,
        default=5.0,
        help="stop repeating a cell once its timed calls would pass this many seconds",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    parser.add_argument(
        "--max-tokens", type=int, default=1000, help="skip cells with more image tokens"
    )
    parser.add_argument("--prompt-tokens", type=int, default=40)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()
    resolutions = [256, 512, 1024] if args.quick else [int(r) for r in args.resolutions.split(",")]
    torch.manual_seed(0)
    print(f"{args.dtype}, {args.threads} thread(s), resolutions {resolutions}", flush=True)

    rows, prefill = measure(args, resolutions)
    report(rows, resolutions, args)
    payload = {
        "args": {**vars(args), "out": str(args.out), "resolutions": resolutions},
        "llm": "Qwen2-0.5B shape (24 layers, hidden 896, 14 heads, 2 KV heads), random init",
        "prefill_samples_s": {str(k): v for k, v in sorted(prefill.items())},
        "rows": rows,
    }
    print("wrote", write_json("ttft_vs_resolution", payload, args.out))
    print("wrote", plot(rows, resolutions, args.out))


if __name__ == "__main__":
    main()
