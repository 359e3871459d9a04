"""The training run: config, trainer (steps, saving, resuming, evaluating) and ``train``."""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import logging
import math
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from transformers import FastVlmConfig, FastVlmForConditionalGeneration

from agent_sdk.collect import Example, read_examples, read_manifest
from agent_sdk.errors import ConfigError
from agent_sdk.evaluate import _check_env_ids
from agent_sdk.prompting import robot_prompt, step_prompt
from agent_sdk.train.data import (
    CENTRED_HALF,
    GROUND_INSTRUCTION,
    CopyText,
    Dataset,
    Grounding,
    Packed,
    Spotlight,
    answer_loss,
    build_dataset,
    collate,
    copies,
    model_pixels,
    tower_features,
)
from agent_sdk.train.features import FeatureCache, tower_fingerprint
from agent_sdk.train.image_cache import ImageCache, images_key
from agent_sdk.train.model import (
    SIZES,
    add_word_tokens,
    calibrate_batchnorm,
    deployable_state,
    extend_with_number_tokens,
    extend_with_word_tokens,
    has_number_tokens,
    init_number_embeddings,
    instruction_words,
    model_config,
    new_model,
    shrink_llm,
    train_time_config,
    train_tokenizer,
    unfold_vision_tower,
)
from agent_sdk.train.packing import pack_folders
from agent_sdk.train.screens import (
    ScreenLabels,
    label_accuracy,
    screen_label_loss,
    screen_labels,
    screen_place_loss,
)
from perception.checkpoints import (
    image_normalisation,
    load_fastvlm_torch,
    load_tokenizer,
    save_fastvlm_checkpoint,
)
from perception.prompts import chat_prompt
from perception.torch_backend import pick_device

log = logging.getLogger(__name__)

STATE = "train_state/state.pt"
RUN_RECORD = "run.json"
LABELLED_SUITES = ("ui", "miniwob", "robot")
"""Suites whose envs list their screens' elements (``elements()``) for ``screen_labels``."""
RECORD_CURVES = ("loss_curve", "screen_label_curve", "copy_curve", "evals", "resumed_at")


# -- the run --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """One training run; ``OUT/run.json`` records it."""

    data: tuple[str, ...]  # folders written by `agent-sdk collect` (named n times: n shares)
    size: str = "small"  # a name of SIZES (ignored with ``init``)
    init: str | None = None  # fine-tune this checkpoint folder instead of a new model
    image_size: int | None = None  # input px, a multiple of 64 (None: the init's or the size's)
    lora_rank: int = 0  # with ``init``: LoRA adapters of this rank on the LLM (0: full)
    unfold_tower: bool = False  # with ``init``: train timm's train-time tower (`unfold_tower`)
    vision_from: str | None = None  # with ``init``: this folder's vision tower and projector
    freeze_tower: bool = False  # with ``init``: the tower as it is, its features computed once
    feature_cache: str | None = None  # with ``freeze_tower``: keep them here (`train.features`)
    image_cache: str | None = None  # keep the packed model images here (`train.image_cache`)
    shrink_llm: float = 1.0  # with ``init``: the LLM's share kept against a new init (`shrink_llm`)
    number_tokens: bool = False  # one token per coordinate value (`model.add_number_tokens`)
    word_tokens: int = 0  # one token per instruction word in >= this many instructions (0: off)
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    min_lr_ratio: float = 0.1  # the cosine ends at lr * min_lr_ratio
    warmup: int = 100  # linear warm-up steps
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    pointer_weight: float = 0.0  # weight of the pointing loss (`agent_sdk.train.data.pointer_loss`)
    end_pointer_weight: float = 0.0  # that loss's weight at drags' end points (`data.drag_query`)
    cell_words: float = 0.0  # weight of the target-feature loss (`data.cell_words_loss`)
    screen_labels: float = 0.0  # weight of the screens' dense label loss (`train.screens`)
    screen_places: float = 0.0  # weight of their places loss (where in its token each element is)
    screen_count: int = 4000  # labelled screens rendered for it
    screen_batch: int = 8  # of them per step (the vision tower alone: cheap beside the LLM)
    screen_suites: tuple[str, ...] = ("ui",)  # whose screens: ui, miniwob, robot (`envs.SUITES`)
    screen_envs: tuple[str, ...] = ()  # env ids instead of the suites (an id n times: n shares)
    tower_warmup: int = 0  # first steps: the vision tower + projector alone on the screen labels
    spotlight: float = 0.0  # chance a pointing example keeps only its target (`data.Spotlight`)
    spotlight_end: float | None = None  # the chance at the last step, linear from `spotlight`
    spotlight_max: int = CENTRED_HALF  # largest half-side of its box (model-image px; `Spotlight`)
    ground: float = 0.0  # chance a pointing example is asked as a grounding one (`data.Grounding`)
    ground_end: float | None = None  # the chance at the last step, linear from `ground`
    copy_text: float = 0.0  # chance typed text gets new letters (`data.CopyText`)
    copy_batch: int = 0  # typing examples added to each step, all with new letters (`data.copies`)
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # bf16 autocast; auto: on CUDA only
    channels_last: bool = True  # the vision tower's memory format (1.2x on the CPU)
    compile: bool = False  # torch.compile the vision tower (1.1x more on the CPU, slow start)
    device: str = "auto"
    threads: int | None = None  # torch intra-op threads on the CPU (None: torch's default)
    data_threads: int = 1  # > 1: processes that read and pack the data (`pack_folders`) at the
    # start, and threads that decode each batch's images (`PackedImages`)
    save_every: int = 200
    eval_every: int = 0  # 0: evaluate only at the end (when eval_episodes > 0)
    eval_episodes: int = 2  # per env, seeds 0 .. (held out: collect starts at 100000)
    eval_suite: str = "ui"
    eval_envs: tuple[str, ...] = ()  # env ids instead of the suite
    log_every: int = 10
    max_examples: int | None = None  # use the first N examples only

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", tuple(str(d) for d in self.data))
        object.__setattr__(self, "eval_envs", tuple(self.eval_envs))
        object.__setattr__(self, "screen_suites", tuple(self.screen_suites))
        object.__setattr__(self, "screen_envs", tuple(self.screen_envs))
        unlabelled = set(self.screen_suites) - set(LABELLED_SUITES)
        if unlabelled or not self.screen_suites:
            raise ConfigError(f"screen labels come from the suites {', '.join(LABELLED_SUITES)}; "
                              f"got {', '.join(self.screen_suites) or 'none'}")  # fmt: skip
        if self.screen_envs:
            _check_labelled_envs(self.screen_envs)
        if not self.data:
            raise ConfigError("data is empty: give at least one --data folder")
        if self.init is None and self.size not in SIZES:
            raise ConfigError(f"unknown size {self.size!r}; known: {', '.join(SIZES)}")
        if self.lora_rank and self.init is None:
            raise ConfigError("LoRA (--lora) fine-tunes a checkpoint: give --init DIR")
        if self.unfold_tower and (self.init is None or self.lora_rank):
            raise ConfigError("--unfold-tower unfolds the re-parameterised vision tower of a "
                              "checkpoint to train it fully: give --init DIR, without --lora "
                              "(a new model trains the train-time tower already)")  # fmt: skip
        if self.vision_from is not None and (self.init is None or self.lora_rank):
            raise ConfigError("--vision-from puts another checkpoint's vision tower and projector "
                              "into the one being fine-tuned: give --init DIR, without --lora "
                              "(a LoRA resume rebuilds the base from --init)")  # fmt: skip
        if self.freeze_tower:
            self._check_frozen_tower()
        if self.feature_cache is not None and not self.freeze_tower:
            raise ConfigError("--feature-cache keeps a frozen tower's features: give "
                              "--freeze-tower too, or drop it")  # fmt: skip
        if not 0.0 <= self.shrink_llm <= 1.0:
            raise ConfigError(f"shrink_llm is the share of the trained LLM kept, in [0, 1], got "
                              f"{self.shrink_llm}")  # fmt: skip
        if self.shrink_llm < 1.0 and (self.init is None or self.lora_rank):
            raise ConfigError("--shrink-llm moves a checkpoint's LLM towards a new init: give "
                              "--init DIR, without --lora (a new model's LLM is new "
                              "already)")  # fmt: skip
        if self.lora_rank and self.screen_labels:
            raise ConfigError("screen labels (--screen-labels) train the vision tower, which "
                              "LoRA (--lora) freezes: drop one")  # fmt: skip
        if self.lora_rank and (self.number_tokens or self.word_tokens):
            raise ConfigError("new tokens (--number-tokens, --word-tokens) need trainable "
                              "embeddings, which LoRA (--lora) freezes: drop one")  # fmt: skip
        if self.word_tokens < 0:
            raise ConfigError(f"word_tokens is a count of instructions (0: off), got "
                              f"{self.word_tokens}")  # fmt: skip
        for name in ("pointer_weight", "end_pointer_weight", "cell_words", "screen_labels",
                     "screen_places"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} is a loss weight and must be >= 0, got "
                                  f"{getattr(self, name)}")  # fmt: skip
        if self.tower_warmup < 0:
            raise ConfigError(f"tower_warmup is a count of steps (0: off), got {self.tower_warmup}")
        if self.screen_places and not self.screen_labels:
            raise ConfigError("--screen-places trains on the labelled screens of --screen-labels: "
                              "give --screen-labels W too")  # fmt: skip
        if self.tower_warmup and not self.screen_labels:
            raise ConfigError("--tower-warmup trains the vision tower on labelled screens before "
                              "the answers: give --screen-labels W too")  # fmt: skip
        if self.copy_batch < 0:
            raise ConfigError(f"copy_batch is a count of examples (0: off), got {self.copy_batch}")
        for name in ("steps", "batch_size", "save_every", "log_every", "screen_count",
                     "screen_batch"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("spotlight", "spotlight_end", "ground", "ground_end", "copy_text"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} is a chance and must lie in [0, 1], got {value}")
        if self.spotlight_max < Spotlight.min_half:
            raise ConfigError(f"spotlight_max must be >= {Spotlight.min_half} (pixels of the "
                              f"model image), got {self.spotlight_max}")  # fmt: skip
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.data_threads < 1:
            raise ConfigError(f"data_threads must be >= 1, got {self.data_threads}")
        if self.image_size is not None and (self.image_size < 64 or self.image_size % 64):
            raise ConfigError(f"image_size is the model's input side in pixels, a multiple of 64 "
                              f"(one image token per 64 px), got {self.image_size}")  # fmt: skip

    def _check_frozen_tower(self) -> None:
        if self.init is None or self.lora_rank or self.unfold_tower:
            raise ConfigError("--freeze-tower keeps a trained vision tower as it is: give --init "
                              "DIR, without --lora or --unfold-tower")  # fmt: skip
        training = [flag for flag, on in (
            ("--screen-labels", self.screen_labels), ("--tower-warmup", self.tower_warmup),
        ) if on]  # fmt: skip
        if training:
            raise ConfigError(f"--freeze-tower keeps the vision tower as it is, so nothing may "
                              f"train it: drop {', '.join(training)}")  # fmt: skip


def _check_labelled_envs(env_ids: Sequence[str]) -> None:
    """Refuse env ids that are unknown (`_check_env_ids` names the nearest) or that no suite of
    `LABELLED_SUITES` holds (their screens list no elements)."""
    import envs  # registers the env ids; the suites' ids

    _check_env_ids(env_ids)
    labelled = {e for suite in LABELLED_SUITES for e in envs.SUITES[suite]}
    for env_id in env_ids:
        if env_id not in labelled:
            raise ConfigError(f"screen labels come from the envs of the suites "
                              f"{', '.join(LABELLED_SUITES)}; {env_id!r} is none of them (its "
                              "screens list no elements)")  # fmt: skip


@dataclass
class Progress:
    """What the loop reports after each logged step."""

    step: int
    steps: int
    loss: float
    accuracy: float
    samples_per_s: float
    lr: float
    evals: list[dict[str, Any]] = field(default_factory=list)


def lr_factor(step: int, warmup: int, steps: int, floor: float) -> float:
    """Linear warm-up to 1, then a cosine down to ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


TRAIN_EXTRA = 'pip install "fastvlm-agent-sdk[train]"'
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _peft() -> Any:
    """The ``peft`` module, or a ConfigError naming the extra that installs it."""
    try:
        import peft
    except ImportError as err:
        raise ConfigError(
            f"LoRA (--lora) needs peft: {TRAIN_EXTRA} (or fine-tune fully: drop --lora)"
        ) from err
    return peft


def _apply_lora(model: FastVlmForConditionalGeneration, rank: int) -> None:
    """Freeze the model, wrap its LLM in LoRA adapters of ``rank`` on every linear layer of the
    attention and MLP; the adapters and the projector train, the vision tower and the rest of
    the LLM (embeddings included) stay as loaded."""
    peft = _peft()
    for p in model.parameters():
        p.requires_grad_(False)
    lora = peft.LoraConfig(
        r=rank, lora_alpha=2 * rank, target_modules=list(LORA_TARGETS), lora_dropout=0.0
    )
    with warnings.catch_warnings():  # peft asks transformers 5 a deprecated question
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
        model.model.language_model = peft.get_peft_model(model.model.language_model, lora)
    for p in model.model.multi_modal_projector.parameters():
        p.requires_grad_(True)


def _state_for_saving(
    model: FastVlmForConditionalGeneration, lora: bool
) -> dict[str, torch.Tensor]:
    """The plain ``fast_vlm`` state dict; with LoRA the adapters are merged into a copy, so the
    folder loads without peft and the model in training keeps its separate adapters."""
    if not lora:
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}
    merged = copy.deepcopy(model)
    merged.model.language_model = merged.model.language_model.merge_and_unload()
    return {k: v.detach().cpu() for k, v in merged.state_dict().items()}


def _describe(model_key: dict[str, Any]) -> str:
    at = f" at {model_key['image_size']} px" if "image_size" in model_key else ""
    if "size" in model_key:
        return f"a new {model_key['size']} model{at}"
    how = (f"LoRA rank {model_key['lora_rank']}" if model_key["lora_rank"] else "full") + at
    if model_key.get("unfold_tower"):
        how += ", --unfold-tower"
    if model_key.get("vision_from"):
        how += f", vision from {model_key['vision_from']}"
    if model_key.get("freeze_tower"):
        how += ", --freeze-tower"
    if "shrink_llm" in model_key:
        how += f", --shrink-llm {model_key['shrink_llm']}"
    return f"{model_key['init']} ({how})"


class FolderRows(NamedTuple):
    """A data folder's examples in the data: ``start:end``; not ``whole`` when ``max_examples``
    cut it short."""

    folder: str
    start: int
    end: int
    whole: bool


class Trainer:
    """Builds the model, tokenizer, data and optimizer of a config, runs steps, saves, resumes."""

    def __init__(self, config: TrainConfig, out: str | Path, *, resume: bool = False) -> None:
        self.config, self.out = config, Path(out)
        state_path = self.out / STATE
        if resume and not state_path.is_file():
            raise ConfigError(f"nothing to resume in {self.out}: no {STATE} (drop --resume)")
        if not resume and (state_path.is_file() or (self.out / RUN_RECORD).is_file()):
            raise ConfigError(f"{self.out} holds a run: pass --resume to go on, or another --out")
        if config.lora_rank:
            _peft()  # before the slow part
        payload = self._read_state(state_path) if resume else None
        self.device = pick_device(config.device)
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        # the text first (no images decoded), then the images streamed into the pixels
        examples = list(self._examples(images=False))
        if not examples:
            raise ConfigError(f"no examples in {', '.join(config.data)}")
        manifests = {d: read_manifest(d) for d in self.folders}
        self.manifests = {d: m["hash"] for d, m in manifests.items()}
        self.record: dict[str, Any] = {k: [] for k in RECORD_CURVES}
        self.label_window: list[tuple[float, ...]] = []  # labels' accuracy, loss (places' loss)
        self.copy_window: list[tuple[float, float]] = []  # copy drill's token accuracy, loss
        self.model, self.tokenizer, self.mean, self.std = self._model(examples, payload)
        if config.image_size is not None:  # a convolutional tower: its weights fit any size
            self.model.config.image_seq_length = (config.image_size // 64) ** 2
        if config.vision_from is not None and payload is None:
            self._take_vision(config.vision_from)
        if payload is None:
            shrink_llm(self.model, config.shrink_llm, config.seed)
        if config.lora_rank:
            _apply_lora(self.model, config.lora_rank)
        self.model.to(self.device)
        image_size = self._image_size()
        tokens = (image_size // self.model.model.vision_tower.timm_model.feature_info[-1][
            "reduction"]) ** 2  # fmt: skip
        self.image_tokens = tokens
        self.data = self._dataset(examples, image_size, tokens)
        self.rows = self._folder_rows({d: m["examples"] for d, m in manifests.items()})
        self.pool = self._sampling_pool()
        if config.init is None and payload is None:
            self._calibrate()
        if config.unfold_tower and payload is None:
            unfold_vision_tower(self.model, self._calibration_batches())
        self.train_mode()
        if config.channels_last:
            self.model.model.vision_tower.to(memory_format=torch.channels_last)
        self.features = self._tower_features() if config.freeze_tower else None
        if config.compile:
            self.model.model.vision_tower.compile()  # in place: state dict names unchanged
        self.screens, self.label_head = self._screen_labels(image_size, tokens)
        hidden = self.model.config.text_config.hidden_size
        self.place_head = (torch.nn.Linear(hidden, 2).to(self.device)
                           if config.screen_places else None)  # fmt: skip
        self.copies = copies(self.data) if config.copy_batch else []
        if config.copy_batch and not self.copies:
            raise ConfigError(f"--copy-batch drills answers that type a text the instruction "
                              f"spells out, and no example in {', '.join(config.data)} does: "
                              f"collect typing tasks (enter-text, fill-form, login-user) or drop "
                              f"--copy-batch")  # fmt: skip
        self.optimizer, self.scheduler = self._optimizer()
        self.step, self.epoch, self.index = 0, 0, 0
        if payload is not None:
            self._load_state(payload)
        bf16 = config.precision == "bf16" or (
            config.precision == "auto" and self.device.type == "cuda"
        )
        self.autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if bf16 else contextlib.nullcontext()
        )  # fmt: skip

    # -- building ---------------------------------------------------------------------------------
    @functools.cached_property
    def folders(self) -> dict[str, int]:
        """The config's data folders, each once (as first named, in that order), with how many
        times each is named (the same folder by another path too)."""
        first: dict[str, str] = {}
        named: Counter[str] = Counter()
        for folder in self.config.data:
            key = str(Path(folder).resolve())
            first.setdefault(key, folder)
            named[key] += 1
        return {folder: named[key] for key, folder in first.items()}

    def _examples(self, images: bool) -> Iterator[Example]:
        """The config's examples (the first ``max_examples``), with or without their images:
        each folder's once, however often it is named."""
        examples = read_examples(list(self.folders), images=images,
                                 threads=self.config.data_threads)  # fmt: skip
        return itertools.islice(examples, self.config.max_examples)

    def _dataset(self, examples: Sequence[Example], image_size: int, tokens: int) -> Dataset:
        """The data in memory (``examples``: their text). With ``image_cache`` the packed images
        are read from there when a run on the same data, image size and padding wrote them,
        and written there once built."""
        config = self.config

        def build(packed: Packed | None = None) -> Dataset:
            if packed is None and config.data_threads > 1:  # worker processes read and pack
                packed = pack_folders(list(self.folders), image_size, self.mean,
                                      config.data_threads, limit=len(examples))  # fmt: skip
            source = self._examples(images=True) if packed is None else examples
            return build_dataset(source, self.tokenizer, self.model.config.image_token_id,
                                 image_size, tokens, self.mean, ground=self._grounds(),
                                 threads=config.data_threads, packed=packed)  # fmt: skip

        if config.image_cache is None:
            return build()
        cache = ImageCache(config.image_cache)
        key = images_key(list(self.manifests.values()), len(examples), image_size, self.mean)
        packed = cache.load(key, len(examples))
        if packed is not None:
            log.info("images of %d examples read from %s", len(examples), cache.path(key))
            return build(packed)
        data = build()
        cache.save(key, data.pixels.blobs, data.sizes)
        return data

    def _folder_rows(self, sizes: dict[str, int]) -> list[FolderRows]:
        """Each folder's range in the data, from the examples it holds (``sizes``)."""
        rows, start = [], 0
        for folder, size in sizes.items():
            end = min(start + size, len(self.data))
            rows.append(FolderRows(folder, start, end, end - start == size))
            start = end
        return rows

    def _sampling_pool(self) -> torch.Tensor:
        """What an epoch draws from: each example's index once per time its folder is named in
        ``data`` (a folder named n times gets n shares of the batches; its examples stay in
        memory once). ``arange`` when no folder is named twice."""
        return torch.cat([torch.arange(r.start, r.end).repeat(self.folders[r.folder])
                          for r in self.rows])  # fmt: skip

    def _model(
        self, examples: Sequence[Example], payload: dict[str, Any] | None
    ) -> tuple[Any, Any, Any, Any]:
        config, resume = self.config, payload is not None
        if resume and self._train_time_weights():  # the train-time weights, not the folder's
            if "weights" not in payload:
                raise ConfigError(f"{self.out / STATE} predates train-time weights: start a new "
                                  "run in another --out")  # fmt: skip
            model = FastVlmForConditionalGeneration(
                train_time_config(FastVlmConfig.from_pretrained(self.out))
            )
            model.load_state_dict(payload["weights"])
            return model, load_tokenizer(self.out), *image_normalisation(self.out)
        source = self.out if resume and not config.lora_rank else config.init
        if source is not None:
            model, info = load_fastvlm_torch(source, dtype=torch.float32)
            if resume and config.lora_rank:
                log.info("LoRA resume: base weights from %s, adapters from the state", source)
            tokenizer = load_tokenizer(source)
            if config.number_tokens and not has_number_tokens(tokenizer):
                extend_with_number_tokens(model, tokenizer)
            if config.word_tokens and not resume:
                extend_with_word_tokens(model, tokenizer, self._words(examples))
            return model, tokenizer, info.image_mean, info.image_std
        size = SIZES[config.size]
        pairs = {(ex.prompt, ex.target) for ex in examples}
        if self._grounds():
            pairs.add((step_prompt(GROUND_INSTRUCTION), ""))
        texts = (chat_prompt(p) + t for p, t in pairs)
        tokenizer = train_tokenizer(sorted(texts), size.vocab_size, config.number_tokens)
        if config.word_tokens:  # before the model, whose image token id comes after them
            add_word_tokens(tokenizer, self._words(examples))
        model = new_model(model_config(size, tokenizer, inference_mode=False))
        if config.number_tokens:
            init_number_embeddings(model, tokenizer)
        return model, tokenizer, (0.0,) * 3, (1.0,) * 3

    def _take_vision(self, source: str) -> None:
        """Put ``source``'s vision tower and projector (a checkpoint folder of the same vision
        config and LLM width: a `tower_warmup` run's, say) in place of the model's, keeping
        its LLM; the LLM then learns to read them."""
        donor, info = load_fastvlm_torch(source, dtype=torch.float32)
        normalisation = (tuple(info.image_mean), tuple(info.image_std))
        if normalisation != (tuple(self.mean), tuple(self.std)):
            raise ConfigError(f"--vision-from {source} normalises pixels with mean / std "
                              f"{normalisation}, {self.config.init} with "
                              f"{(tuple(self.mean), tuple(self.std))}: take a tower trained on "
                              "the same pixels")  # fmt: skip
        tokens = donor.config.image_seq_length, self.model.config.image_seq_length
        if tokens[0] != tokens[1]:
            raise ConfigError(f"--vision-from {source} sees {tokens[0]} image tokens a screen, "
                              f"{self.config.init} {tokens[1]}: take a tower trained at the same "
                              "image size")  # fmt: skip
        for name in ("vision_tower", "multi_modal_projector"):
            mine, theirs = (getattr(m.model, name).state_dict() for m in (self.model, donor))
            differ = sorted(mine.keys() ^ theirs.keys()) + sorted(
                k for k in mine.keys() & theirs.keys() if mine[k].shape != theirs[k].shape
            )
            if differ:
                raise ConfigError(f"--vision-from {source}: its {name} does not fit "
                                  f"{self.config.init}'s ({len(differ)} tensors differ, e.g. "
                                  f"{differ[0]}); both need the same vision config and LLM "
                                  "width")  # fmt: skip
            getattr(self.model.model, name).load_state_dict(theirs)

    def _words(self, examples: Sequence[Example]) -> list[str]:
        """The instruction words that get tokens of their own (`model.instruction_words`)."""
        fixed = chat_prompt(step_prompt("")) + chat_prompt(robot_prompt(""))
        return instruction_words((ex.instruction for ex in examples), self.config.word_tokens,
                                 fixed)  # fmt: skip

    def _calibration_batches(self, batches: int = 4) -> Iterator[torch.Tensor]:
        """The first ``batches`` training batches' pixels as the model takes them, on its device
        (no RNG used)."""
        n = min(len(self.data), batches * self.config.batch_size)
        for chunk in self.data.pixels[:n].split(self.config.batch_size):
            yield model_pixels(chunk, self.device, self.mean, self.std)

    @torch.no_grad()
    def _tower_features(self) -> torch.Tensor:
        """With ``freeze_tower``: the vision tower's output for every example (``N x tokens x
        C``, float16, on the CPU; before the projector, which trains), in eval mode as the
        model runs it; the tower gets no gradient from here on. On the CPU the tower is most of
        a step's cost, so steps on these features are several times faster. With
        ``feature_cache``, each whole folder's are read from there when the same tower computed
        them before, and written there when not."""
        tower = self.model.model.vision_tower.eval().requires_grad_(False)
        if self.config.feature_cache is None:
            return self._features_of(0, len(self.data))
        cache = FeatureCache(self.config.feature_cache)
        fingerprint = tower_fingerprint(tower, self._image_size(), self.mean, self.std)
        parts = []
        for row in (r for r in self.rows if r.end > r.start):
            data_hash = self.manifests[row.folder]
            features = cache.load(data_hash, fingerprint, row.end - row.start)
            if features is not None:
                log.info("tower features of %s read from %s", row.folder, cache.folder)
            else:
                features = self._features_of(row.start, row.end)
                if row.whole:
                    cache.save(data_hash, fingerprint, features)
            parts.append(features)
        return torch.cat(parts)

    def _features_of(self, start: int, end: int, batch: int = 64) -> torch.Tensor:
        """The tower's features of examples ``start:end``, ``batch`` images at a time."""
        return torch.cat([
            tower_features(self.model, self.data.pixels[i : min(i + batch, end)], self.mean,
                           self.std, self.config.channels_last)
            for i in range(start, end, batch)
        ])  # fmt: skip

    def _calibrate(self) -> None:
        """BatchNorm statistics of a new model from its first training batches."""
        calibrate_batchnorm(self.model.model.vision_tower.timm_model, self._calibration_batches())

    def _screen_labels(
        self, image_size: int, tokens: int
    ) -> tuple[ScreenLabels | None, torch.nn.Linear | None]:
        """With ``screen_labels``: the labelled screens and the word head over the projected
        image features (trained alongside, kept in the training state, never saved with the
        model)."""
        if not self.config.screen_labels:
            return None, None
        import envs  # the suites' env ids

        env_ids = list(self.config.screen_envs) or [
            e for suite in self.config.screen_suites for e in envs.SUITES[suite]
        ]
        screens = screen_labels(env_ids, self.config.screen_count, image_size, tokens,
                                threads=self.config.data_threads)  # fmt: skip
        hidden = self.model.config.text_config.hidden_size
        return screens, torch.nn.Linear(hidden, len(screens.vocab)).to(self.device)

    def _grounds(self) -> bool:
        """Whether the run asks grounding examples at any step."""
        return bool(self.config.ground or self.config.ground_end)

    def _image_size(self) -> int:
        return int(math.isqrt(self.model.config.image_seq_length) * 64)

    def _optimizer(self) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        c = self.config
        params = [p for p in self._trained() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": c.weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]  # fmt: skip
        optimizer = torch.optim.AdamW(groups, lr=c.lr, betas=(0.9, 0.95))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, c.warmup, c.steps, c.min_lr_ratio)
        )
        return optimizer, scheduler

    def _trained(self) -> list[torch.nn.Parameter]:
        """The model's parameters and the screen heads'."""
        heads = [h for h in (self.label_head, self.place_head) if h is not None]
        return [*self.model.parameters(), *(p for h in heads for p in h.parameters())]

    # -- steps ------------------------------------------------------------------------------------
    def train_mode(self) -> None:
        """Training mode; with LoRA or `freeze_tower` the frozen vision tower stays in eval
        mode, so its BatchNorm running statistics stay as loaded."""
        self.model.train()
        if self.config.lora_rank or self.config.freeze_tower:
            self.model.model.vision_tower.eval()

    def next_batch(self) -> list[int]:
        """The next batch's example indices: a fresh permutation of the sampling pool per
        epoch, from the seed."""
        n, picked = len(self.pool), []
        while len(picked) < self.config.batch_size:
            order = torch.randperm(
                n, generator=torch.Generator().manual_seed(self.config.seed * 100_003 + self.epoch)
            )
            take = order[self.index : self.index + self.config.batch_size - len(picked)]
            take = self.pool[take].tolist()
            picked += take
            self.index += len(take)
            if self.index >= n:
                self.epoch, self.index = self.epoch + 1, 0
        return picked

    @property
    def warming_up(self) -> bool:
        """Whether the next step is one of the tower warm-up's (`TrainConfig.tower_warmup`)."""
        return self.step < self.config.tower_warmup

    def step_examples(self) -> int:
        """How many examples the next step trains on: its answers, or in the tower warm-up its
        labelled screens."""
        return self._screens_a_step() if self.warming_up else self.config.batch_size

    def _screens_a_step(self) -> int:
        """``screen_batch``, or every labelled screen when there are fewer."""
        assert self.screens is not None
        return min(self.config.screen_batch, len(self.screens))

    def train_step(self) -> tuple[float, float]:
        """One optimizer step; returns the loss and the answer-token accuracy (NaN in the tower
        warm-up, which trains the vision tower and projector alone on labelled screens: the
        LLM gets no gradient and AdamW leaves it be)."""
        rng = np.random.default_rng([self.config.seed, self.step])  # exact on resume
        with self.autocast:
            if self.warming_up:
                loss = self._screen_loss(self._screen_pick(rng)) / self.config.screen_labels
                acc = float("nan")
            else:
                loss, acc = self._answers_loss(rng)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self._trained(), self.config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        return float(loss.detach()), float(acc)

    def _screen_pick(self, rng: np.random.Generator) -> list[int]:
        """`_screens_a_step` distinct labelled screens."""
        assert self.screens is not None
        return rng.choice(len(self.screens), self._screens_a_step(), replace=False).tolist()

    def _answers_loss(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss of a step on the answers (with the screen labels and copy drill, when on)
        and its answer-token accuracy."""
        c = self.config
        spotlight = self._scheduled(c.spotlight, c.spotlight_end)
        ground = self._scheduled(c.ground, c.ground_end)
        batch = self._collate(
            self.next_batch(),
            Spotlight(spotlight, rng, max_half=c.spotlight_max) if spotlight > 0 else None,
            Grounding(ground, rng) if ground > 0 else None,
            self._copy_text(c.copy_text, rng) if c.copy_text > 0 else None,
        )
        loss, acc = answer_loss(
            self.model, batch, self.mean, self.std, c.channels_last, c.pointer_weight,
            c.cell_words, c.end_pointer_weight,
        )  # fmt: skip
        if self.screens is not None:
            loss = loss + self._screen_loss(self._screen_pick(rng))
        if c.copy_batch:
            loss = loss + self._copy_loss(rng)
        return loss, acc

    def _screen_loss(self, index: list[int]) -> torch.Tensor:
        """``screen_labels`` x `screen_label_loss` (+ ``screen_places`` x `screen_place_loss`)
        on the labelled screens ``index`` (``screen_batch`` a step); the head's word accuracy
        on them and the losses go to ``label_window``."""
        assert self.screens is not None and self.label_head is not None
        c = self.config
        pixels = model_pixels(self.screens.pixels[index], self.device, self.mean, self.std,
                              c.channels_last)  # fmt: skip
        feats = self.model.model.get_image_features(pixel_values=pixels).pooler_output
        targets = self.screens.targets(index).to(self.device)
        labels = screen_label_loss(feats, self.label_head, targets)
        with torch.no_grad():
            accuracy = label_accuracy(self.label_head(feats.float()), targets)
        if self.place_head is None:
            self.label_window.append((accuracy, float(labels.detach())))
            return c.screen_labels * labels
        places = self.screens.place_targets(index).to(self.device)
        place = screen_place_loss(feats, self.place_head, places)
        self.label_window.append((accuracy, float(labels.detach()), float(place.detach())))
        return c.screen_labels * labels + c.screen_places * place

    def _copy_loss(self, rng: np.random.Generator) -> torch.Tensor:
        """`answer_loss` on ``copy_batch`` typing examples (`copies`), every one with new letters
        (`CopyText`), so each step asks the answer to copy text from the prompt; its token
        accuracy and loss go to ``copy_window``."""
        c = self.config
        pick = rng.choice(self.copies, min(c.copy_batch, len(self.copies)), replace=False)
        batch = self._collate(pick.tolist(), copy_text=self._copy_text(1.0, rng))
        loss, accuracy = answer_loss(self.model, batch, self.mean, self.std, c.channels_last)
        self.copy_window.append((float(accuracy), float(loss.detach())))
        return loss

    def _collate(
        self, index: list[int], spotlight: Spotlight | None = None,
        grounding: Grounding | None = None, copy_text: CopyText | None = None,
    ) -> dict[str, torch.Tensor]:  # fmt: skip
        """`collate` of examples ``index``; with ``freeze_tower``, their tower features in place
        of pixels: the cached ones (no image decoded), or with ``spotlight`` or ``grounding``
        (which change pixels) the frozen tower's output for this batch's pixels."""
        pad = int(self.tokenizer.pad_token_id or 0)
        if self.features is None:
            return collate(self.data, index, pad, spotlight, grounding, copy_text)
        if spotlight is None and grounding is None:
            batch = collate(self.data, index, pad, copy_text=copy_text, images=False)
            return {**batch, "features": self.features[index]}
        batch = collate(self.data, index, pad, spotlight, grounding, copy_text)
        features = tower_features(self.model, batch["pixels"], self.mean, self.std,
                                  self.config.channels_last)  # fmt: skip
        return {**batch, "pixels": torch.empty(len(index), 0), "features": features}

    def _copy_text(self, prob: float, rng: np.random.Generator) -> CopyText:
        """`CopyText` at chance ``prob`` for this model's tokenizer and image tokens."""
        return CopyText(prob, rng, self.tokenizer, self.model.config.image_token_id,
                        self.image_tokens)  # fmt: skip

    def _scheduled(self, start: float, end: float | None) -> float:
        """A chance at this step: linear from ``start`` to ``end`` (None: constant)."""
        end = start if end is None else end
        return start + (end - start) * self.step / max(self.config.steps - 1, 1)

    # -- saving -----------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the checkpoint folder (the deployable weights: vision tower re-parameterised),
        then the resumable state (a new model's train-time weights too), then the run record."""
        state = _state_for_saving(self.model, bool(self.config.lora_rank))
        deployed, config = deployable_state(self.model, state)
        save_fastvlm_checkpoint(self.out, deployed, config, tokenizer=self.tokenizer,
                                overwrite=True)  # fmt: skip
        trainable = {n: p.detach().cpu() for n, p in self.model.named_parameters()
                     if p.requires_grad} if self.config.lora_rank else {}  # fmt: skip
        payload = {
            "step": self.step, "epoch": self.epoch, "index": self.index,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "rng": torch.get_rng_state(), "trainable": trainable,
            "model": self._model_key(),
        }  # fmt: skip
        if self.label_head is not None:
            payload["label_head"] = self.label_head.state_dict()
        if self.place_head is not None:
            payload["place_head"] = self.place_head.state_dict()
        if self._train_time_weights():
            payload["weights"] = state
        path = self.out / STATE
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        self.write_record()

    def _train_time_weights(self) -> bool:
        """Whether the model trains timm's train-time tower (a new model, or `unfold_tower`),
        whose weights only the training state holds (the folder holds them folded)."""
        return self.config.init is None or self.config.unfold_tower

    def _model_key(self) -> dict[str, Any]:
        """What a resumed run must share with its saved state: the model it trains."""
        c = self.config
        size = {} if c.image_size is None else {"image_size": c.image_size}
        if c.init is None:
            return {"size": c.size, **size}
        key = {"init": str(Path(c.init).expanduser().resolve()), "lora_rank": c.lora_rank, **size}
        if c.vision_from is not None:
            key["vision_from"] = str(Path(c.vision_from).expanduser().resolve())
        if c.freeze_tower:
            key["freeze_tower"] = True
        if c.shrink_llm < 1.0:
            key["shrink_llm"] = c.shrink_llm
        return {**key, "unfold_tower": True} if c.unfold_tower else key

    def _read_state(self, path: Path) -> dict[str, Any]:
        """The saved state, refused when it belongs to another model (size, init or LoRA)."""
        payload = torch.load(path, weights_only=True, map_location="cpu")
        saved, now = payload.get("model", {}), self._model_key()  # older states have none
        if saved and saved != now:
            raise ConfigError(
                f"{self.out} trains {_describe(saved)}, not {_describe(now)}: resume with the same "
                "--config, --init, --image-size, --lora, --unfold-tower, --vision-from, "
                "--freeze-tower and --shrink-llm, or "
                "start a new run in another --out"
            )
        return payload

    def _load_state(self, payload: dict[str, Any]) -> None:
        if payload["trainable"]:  # LoRA: the adapters and the projector
            saved = payload["trainable"]
            trainable = {n for n, p in self.model.named_parameters() if p.requires_grad}
            if saved.keys() != trainable:
                raise ConfigError(
                    f"the LoRA state in {self.out / STATE} does not fit the model: "
                    f"{len(saved.keys() ^ trainable)} tensors differ (e.g. "
                    f"{sorted(saved.keys() ^ trainable)[0]}); start a new run in another --out"
                )
            self.model.load_state_dict(saved, strict=False)
        if self.label_head is not None:
            if "label_head" not in payload:
                raise ConfigError(f"{self.out / STATE} was saved without screen labels: resume "
                                  "without --screen-labels, or start a new run")  # fmt: skip
            saved = tuple(payload["label_head"]["weight"].shape)
            if saved != tuple(self.label_head.weight.shape):
                raise ConfigError(f"{self.out / STATE} labels screens with {saved[0]} words, "
                                  f"these screens have {self.label_head.weight.shape[0]}: resume "
                                  "with the same --screen-suite, --screen-env and "
                                  "--screen-count")  # fmt: skip
            self.label_head.load_state_dict(payload["label_head"])
        saved_places = "place_head" in payload
        if saved_places != (self.place_head is not None):
            how = "with" if saved_places else "without"
            raise ConfigError(f"{self.out / STATE} was saved {how} --screen-places: resume {how} "
                              "it, or start a new run")  # fmt: skip
        if self.place_head is not None:
            self.place_head.load_state_dict(payload["place_head"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        torch.set_rng_state(payload["rng"])
        self.step, self.epoch, self.index = payload["step"], payload["epoch"], payload["index"]
        record_path = self.out / RUN_RECORD
        if record_path.is_file():
            old = json.loads(record_path.read_text())
            self.record = {k: old.get(k, []) for k in RECORD_CURVES}
        for key in ("loss_curve", "screen_label_curve", "copy_curve"):
            self.record[key] = [r for r in self.record[key] if r[0] <= self.step]
        self.record["resumed_at"].append(self.step)

    def write_record(self) -> None:
        params = sum(p.numel() for p in self.model.parameters())
        trained = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        record = {
            "config": asdict(self.config), "data_manifests": self.manifests,
            "model": {"parameters": params, "trainable_parameters": trained,
                      "image_size": self._image_size(),
                      "config": self.model.config.to_dict()},
            "tokenizer_size": len(self.tokenizer), "examples": len(self.data),
            "epoch_draws": len(self.pool),
            "device": str(self.device), "steps_done": self.step, **self.record,
        }  # fmt: skip
        tmp = self.out / (RUN_RECORD + ".tmp")
        tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
        tmp.replace(self.out / RUN_RECORD)

    def evaluate(self) -> dict[str, Any]:
        """Evaluate the saved (deployable) checkpoint with VLMPolicy on held-out seeds."""
        from agent_sdk.evaluate import EvalConfig, evaluate, resolve_env_ids, summarize

        c = self.config

        eval_config = EvalConfig(
            env_ids=resolve_env_ids(None if c.eval_envs else c.eval_suite, c.eval_envs),
            policy="vlm", model=str(self.out),
            episodes=c.eval_episodes, seed=0, save_trajectories=0,
            suite=None if c.eval_envs else c.eval_suite,
        )  # fmt: skip
        folder = self.out / "evals" / f"step_{self.step:06d}"
        rows = summarize(evaluate(eval_config, folder, resume=True), eval_config.env_ids)
        result = {"step": self.step, "success_rate": rows[-1].success_rate,
                  "per_env": {r.env_id: r.success_rate for r in rows[:-1]}}  # fmt: skip
        self.record["evals"].append(result)
        return result


def train(
    config: TrainConfig, out: str | Path, *, resume: bool = False,
    progress: Callable[[Progress], None] | None = None, until: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) a training run into ``out``; returns its run record. ``until`` stops
    after that step (saved), as an interruption would."""
    trainer = Trainer(config, out, resume=resume)
    trainer.out.mkdir(parents=True, exist_ok=True)
    window: list[tuple[float, float, int]] = []  # loss, answer accuracy, examples
    start = time.perf_counter()
    last = config.steps if until is None else min(until, config.steps)
    while trainer.step < last:
        examples = trainer.step_examples()
        window.append((*trainer.train_step(), examples))
        step = trainer.step
        if step % config.log_every == 0 or step == config.steps:
            elapsed = time.perf_counter() - start
            losses, accs, counts = zip(*window, strict=True)
            answered = [a for a in accs if math.isfinite(a)]  # none in the tower warm-up
            loss, rate = float(np.mean(losses)), sum(counts) / elapsed
            acc = float(np.mean(answered)) if answered else None
            lr = trainer.scheduler.get_last_lr()[0]
            trainer.record["loss_curve"].append([step, loss, acc, lr, rate])
            if trainer.label_window:  # [step, label accuracy, label loss(, places loss)]
                means = np.nanmean(np.array(trainer.label_window), axis=0).tolist()
                trainer.record["screen_label_curve"].append([step, *means])
                trainer.label_window = []
            if trainer.copy_window:  # [step, copy token accuracy, copy loss]
                means = np.mean(np.array(trainer.copy_window), axis=0).tolist()
                trainer.record["copy_curve"].append([step, *means])
                trainer.copy_window = []
            if progress is not None:
                progress(Progress(step, config.steps, loss, math.nan if acc is None else acc,
                                  rate, lr, trainer.record["evals"]))  # fmt: skip
            window, start = [], time.perf_counter()
        evaluate_now = config.eval_episodes > 0 and (
            (config.eval_every and step % config.eval_every == 0) or step == config.steps
        )
        if step % config.save_every == 0 or step in (config.steps, last) or evaluate_now:
            trainer.save()
        if evaluate_now:
            trainer.model.eval()
            trainer.evaluate()
            trainer.train_mode()
            trainer.write_record()
            start = time.perf_counter()  # evaluation time is not training throughput
    if trainer.step == 0 or not (trainer.out / STATE).is_file():
        trainer.save()
    return json.loads((trainer.out / RUN_RECORD).read_text())
