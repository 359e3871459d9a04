"""Model sizes, their ``fast_vlm`` configs, and the tokenizer trained on the data."""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import timm
import torch
from timm.utils.model import reparameterize_model
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    FastVlmConfig,
    FastVlmForConditionalGeneration,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    TimmWrapperModel,
)

from agent_sdk.errors import ConfigError
from perception.checkpoints import IMAGE_TOKEN
from perception.tiny import CHAT_TEMPLATE, SPECIAL_TOKENS


# -- model sizes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSize:
    """A FastVLM shrunk: timm ``fastvit_mci3`` stages, a Qwen2, a tokenizer size."""

    image_size: int  # a multiple of 64; (image_size / 64) ** 2 image tokens
    vision_layers: tuple[int, int, int, int, int]  # blocks per stage (FastViTHD: 2, 12, 24, 4, 2)
    vision_dims: tuple[int, int, int, int, int]  # channels; the last two divisible by 32 (heads)
    text_hidden: int
    text_layers: int
    text_heads: int
    text_kv_heads: int
    text_intermediate: int
    vocab_size: int = 1024  # tokens the BPE learns, chat specials included


SIZES: dict[str, ModelSize] = {
    "tiny": ModelSize(128, (1, 1, 1, 1, 1), (8, 16, 32, 64, 128), 64, 2, 4, 2, 128, 512),
    "small": ModelSize(320, (1, 1, 2, 1, 1), (16, 32, 64, 128, 256), 256, 4, 4, 2, 768),
    "base": ModelSize(256, (1, 2, 4, 2, 1), (24, 48, 96, 192, 384), 384, 6, 6, 2, 1152),
}
"""Named sizes: ``tiny`` for tests, ``small`` trains on two CPU cores in about two hours."""


def model_config(
    size: ModelSize, tokenizer: PreTrainedTokenizerFast, *, inference_mode: bool = True
) -> FastVlmConfig:
    """The ``fast_vlm`` config of ``size`` for ``tokenizer`` (``<image>`` gets the next id).
    ``inference_mode=False`` builds timm's train-time vision tower (see `train_time_config`)."""
    if size.image_size <= 0 or size.image_size % 64:
        raise ConfigError(f"image_size must be a positive multiple of 64, got {size.image_size}")
    image_id = len(tokenizer)
    vocab = tokenizer.get_vocab()
    return FastVlmConfig(
        vision_config={
            "model_type": "timm_wrapper", "architecture": "fastvit_mci3", "global_pool": "avg",
            "hidden_size": size.vision_dims[-1] * 2,  # final_conv doubles the channels
            "model_args": {"inference_mode": inference_mode, "layers": list(size.vision_layers),
                           "embed_dims": list(size.vision_dims)},
        },
        text_config={
            "model_type": "qwen2", "vocab_size": 64 * math.ceil((image_id + 1) / 64),
            "hidden_size": size.text_hidden, "intermediate_size": size.text_intermediate,
            "num_hidden_layers": size.text_layers, "num_attention_heads": size.text_heads,
            "num_key_value_heads": size.text_kv_heads, "max_position_embeddings": 2048,
            "rope_theta": 1_000_000.0, "tie_word_embeddings": True,
            "bos_token_id": vocab["<|endoftext|>"], "eos_token_id": vocab["<|im_end|>"],
        },
        image_token_index=image_id,
        image_seq_length=(size.image_size // 64) ** 2,
        tie_word_embeddings=True,
    )  # fmt: skip


# -- train-time and deployable vision towers ------------------------------------------------------
# Built re-parameterised (``inference_mode``: one conv per MobileOne block, no BatchNorm) and
# initialised from scratch, the tower loses the image: each conv shrinks the signal and nothing
# rescales it, so after five stages every image gives the same features. A new model therefore
# trains timm's train-time tower (MobileOne branches with BatchNorm, timm's own init) and every
# save folds the branches into the single convs real FastVLM checkpoints have.
_TOWER = "model.vision_tower.timm_model."


def _with_inference_mode(config: FastVlmConfig, inference_mode: bool) -> FastVlmConfig:
    config = copy.deepcopy(config)
    args = dict(config.vision_config.model_args or {})
    config.vision_config.model_args = {**args, "inference_mode": inference_mode}
    return config


def train_time_config(config: FastVlmConfig) -> FastVlmConfig:
    """A copy of ``config`` whose vision tower is timm's train-time one (BatchNorm branches)."""
    return _with_inference_mode(config, False)


def new_model(config: FastVlmConfig) -> FastVlmForConditionalGeneration:
    """A model of ``config`` whose vision tower has timm's own init (transformers' std-0.02 init
    of its convs starts with far weaker image features, see the note above)."""
    model = FastVlmForConditionalGeneration(config)
    vision = config.vision_config
    fresh = timm.create_model(vision.architecture, pretrained=False, num_classes=0,
                              **(vision.model_args or {}))  # fmt: skip
    model.model.vision_tower.timm_model.load_state_dict(fresh.state_dict())
    return model


@torch.no_grad()
def shrink_llm(model: FastVlmForConditionalGeneration, keep: float, seed: int = 0) -> None:
    """Shrink the LLM towards a new init, in place: each of its weights (its norms' aside)
    becomes ``keep`` times itself plus ``1 - keep`` times a new LLM's of the same config
    (transformers' init, seeded by ``seed``); ``keep`` 1 leaves it, 0 starts it anew. The
    vision tower and projector stay. Shrink and perturb (Ash and Adams, 2020): a long-trained
    LLM's large weights learn new attention circuits slowly or not at all (measured by
    ``benchmarks/copy_plasticity.py``)."""
    if not 0.0 <= keep <= 1.0:
        raise ConfigError(f"keep is a share of the trained weights in [0, 1], got {keep}")
    if keep == 1.0:
        return
    llm = model.model.language_model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        new = type(llm)(llm.config)
    fresh = dict(new.named_parameters())
    for name, weight in llm.named_parameters():
        if "norm" not in name:
            weight.mul_(keep).add_(fresh[name].to(weight), alpha=1.0 - keep)


def deployable_state(
    model: FastVlmForConditionalGeneration, state: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], FastVlmConfig]:
    """``state`` (``model``'s state dict) and config with the vision tower re-parameterised, as
    `perception.load_vlm` loads it; the same function as ``model`` in eval mode. A tower that is
    re-parameterised already is returned as is."""
    if (model.config.vision_config.model_args or {}).get("inference_mode", False):
        return state, model.config
    tower = reparameterize_model(model.model.vision_tower.timm_model)  # a copy
    state = {k: v for k, v in state.items() if not k.startswith(_TOWER)}
    state.update({_TOWER + k: v.detach().cpu() for k, v in tower.state_dict().items()})
    return state, _with_inference_mode(model.config, True)


@torch.no_grad()
def calibrate_batchnorm(tower: torch.nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Set the BatchNorm running statistics of ``tower`` to the mean over ``batches`` of its
    batch statistics, so the deployable (eval-mode) tower sees images from the first save."""
    norms = [m for m in tower.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average
    was_training = tower.training
    tower.train()
    for pixels in batches:
        tower(pixels)
    tower.train(was_training)
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum


def _identity_kernel(conv: torch.nn.Conv2d) -> torch.Tensor:
    """The kernel of ``conv``'s shape that maps each channel to itself (a grouped conv's too)."""
    out_chs, per_group, kh, kw = conv.weight.shape
    kernel = torch.zeros_like(conv.weight)
    for c in range(out_chs):
        kernel[c, c % per_group, kh // 2, kw // 2] = 1.0
    return kernel


def _silence(branch: torch.nn.Module | None) -> None:
    """Make a train-time branch (a conv + BatchNorm, or a bare BatchNorm) add nothing, yet keep
    its gradients: its BatchNorm's scale and shift start at zero."""
    if branch is None:
        return
    bn = branch if isinstance(branch, torch.nn.modules.batchnorm._BatchNorm) else branch.bn
    bn.reset_running_stats()
    bn.weight.zero_()
    bn.bias.zero_()


@torch.no_grad()
def unfold_tower(
    deployed: torch.nn.Module, train_time: torch.nn.Module, images: Iterable[torch.Tensor]
) -> None:
    """Load a re-parameterised ``fastvit`` tower (``deployed``: one conv per block, as FastVLM
    folders hold it) into timm's train-time tower of the same shape (``train_time``), so that
    fine-tuning it trains with BatchNorm again. Each folded conv ``W x + b`` becomes the block's
    main branch, a conv ``W`` whose BatchNorm is set from ``images`` (the statistics of ``W x``
    over them) to give back ``W x + b``; the other branches start silent (`_silence`). In eval
    mode the result computes exactly what ``deployed`` computes; in train mode, what it computes
    with each batch's statistics in place of ``images``'.

    Why: trained in its deployable form, the shipped model's tower learnt what a shape is more
    slowly than unfolded (`benchmarks/tower_unfold.py`)."""
    from timm.models.fastvit import (
        LayerScale2d,
        MobileOneBlock,
        ReparamLargeKernelConv,
        RepConditionalPosEnc,
        RepMixer,
    )

    state = deployed.state_dict()
    target = train_time.state_dict()
    missing = [k for k in state if "reparam_conv" not in k and k not in target]
    if missing:
        raise ConfigError(f"the tower to unfold does not match timm's train-time tower: "
                          f"{missing[:3]} have no place in it")  # fmt: skip
    train_time.load_state_dict({k: v for k, v in state.items() if k in target}, strict=False)
    folded = dict(deployed.named_modules())
    # per folded conv: the train-time branch that takes it over, and that branch's weight
    mains: dict[str, tuple[torch.nn.Conv2d, torch.nn.Module, torch.Tensor]] = {}
    for name, module in train_time.named_modules():
        if name not in folded:  # inside a RepMixer, folded with it
            continue
        conv = getattr(folded[name], "reparam_conv", None)
        if isinstance(module, MobileOneBlock) and module.conv_kxk is not None:
            mains[name] = (conv, module.conv_kxk[0], conv.weight)
            _silence(module.conv_scale)
            _silence(module.identity)
        elif isinstance(module, ReparamLargeKernelConv):
            mains[name] = (conv, module.large_conv, conv.weight)
            _silence(getattr(module, "small_conv", None))
        elif isinstance(module, RepMixer):  # x + scale * (mixer(x) - norm(x)), scale 1
            # the residual x lies outside the branch
            mains[name] = (conv, module.mixer.conv_kxk[0], conv.weight - _identity_kernel(conv))
            _silence(module.mixer.conv_scale)
            _silence(module.mixer.identity)
            _silence(module.norm.identity)
            if isinstance(module.layer_scale, LayerScale2d):
                module.layer_scale.gamma.fill_(1.0)
        elif isinstance(module, RepConditionalPosEnc):
            module.pos_enc.weight.copy_(conv.weight - _identity_kernel(conv))
            module.pos_enc.bias.copy_(conv.bias)
    # per main branch, the sums of W x and (W x)^2 over the images, channel by channel
    sums: dict[str, list[torch.Tensor]] = {}

    def gather(name: str, x: torch.Tensor) -> None:
        conv, _, weight = mains[name]
        y = torch.nn.functional.conv2d(x, weight, None, conv.stride, conv.padding,
                                       conv.dilation, conv.groups)  # fmt: skip
        row = [y.sum((0, 2, 3)), y.square().sum((0, 2, 3)), torch.tensor(y.numel() / y.shape[1])]
        sums[name] = [a + b for a, b in zip(sums[name], row, strict=True)] if name in sums else row

    hooks = [conv.register_forward_hook(lambda _m, args, _out, name=name: gather(name, args[0]))
             for name, (conv, _, _) in mains.items()]  # fmt: skip
    was_training = deployed.training
    deployed.eval()
    try:
        for batch in images:
            deployed(batch)
    finally:
        for hook in hooks:
            hook.remove()
        deployed.train(was_training)
    if len(sums) != len(mains):
        raise ConfigError("no images to unfold the vision tower with")
    for name, (conv, branch, weight) in mains.items():
        total, squares, count = sums[name]
        mean = total / count
        var = (squares / count - mean.square()).clamp_min(0.0)
        branch.conv.weight.copy_(weight)
        bn = branch.bn
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.copy_(mean + conv.bias)


def unfold_vision_tower(
    model: FastVlmForConditionalGeneration, images: Iterable[torch.Tensor]
) -> None:
    """Swap the re-parameterised vision tower of ``model`` (a loaded checkpoint) for timm's
    train-time one, unfolded from it (`unfold_tower`, BatchNorm set from ``images``: pixels as
    the model takes them, on its device), in place: the rest of the model is not copied (a real
    FastVLM's LLM is large). Saving folds it back (`deployable_state`)."""
    vision = model.config.vision_config
    if not (vision.model_args or {}).get("inference_mode", False):
        raise ConfigError("the checkpoint's vision tower is not re-parameterised: there is "
                          "nothing to unfold (drop --unfold-tower)")  # fmt: skip
    vision = train_time_config(model.config).vision_config
    deployed = model.model.vision_tower
    tower = TimmWrapperModel(vision).to(deployed.device)
    unfold_tower(deployed.timm_model, tower.timm_model, images)
    model.model.vision_tower = tower
    model.config.vision_config = vision


# -- tokenizer ------------------------------------------------------------------------------------
_SPECIAL = re.compile("|".join(re.escape(t) for t in (*SPECIAL_TOKENS, IMAGE_TOKEN)))


NUMBERS = tuple(str(v) for v in range(10, 1001))
"""The coordinate values that `add_number_tokens` gives a token each (0-9 are digit tokens)."""


def add_number_tokens(tokenizer: PreTrainedTokenizerBase) -> int:
    """Give every coordinate value 10..1000 one token of its own, matched before the BPE (so
    ``click(636, 344)`` is five tokens, not nine); returns how many were new.

    With one token per digit a small model placed its targets to the hundreds digit only: the
    tens digit of a coordinate is a sawtooth of the target's place inside an image token's cell
    (two periods per cell at 320 px), which it never learnt, though its image features held that
    place (`benchmarks/cell_probe.py`: a ridge probe read it to about 5 px). A number token is
    one class per value whose embedding (`init_number_embeddings`) varies smoothly with the
    value, the way detection models with location tokens (Pix2Seq, PaliGemma) answer positions."""
    return tokenizer.add_tokens([AddedToken(n, normalized=False) for n in NUMBERS])


def has_number_tokens(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether ``tokenizer`` has `add_number_tokens`'s tokens."""
    vocab = tokenizer.get_vocab()
    return all(n in vocab for n in NUMBERS)


@torch.no_grad()
def init_number_embeddings(
    model: FastVlmForConditionalGeneration, tokenizer: PreTrainedTokenizerBase
) -> None:
    """Set the (tied) embeddings of the number tokens to sinusoids of their value (periods from
    2,000 down to 8 units), scaled to the mean norm of the other rows: neighbouring values start
    alike, so what is learnt for one value carries to the next."""
    embed = model.get_input_embeddings().weight
    vocab = tokenizer.get_vocab()
    ids = torch.tensor([vocab[n] for n in NUMBERS])
    values = torch.tensor([float(n) for n in NUMBERS])[:, None]
    half = embed.shape[1] // 2
    periods = 2000.0 * (8.0 / 2000.0) ** (torch.arange(half) / max(half - 1, 1))
    angles = 2 * math.pi * values / periods
    rows = torch.cat([angles.sin(), angles.cos()], dim=1)
    if rows.shape[1] < embed.shape[1]:  # an odd width
        rows = torch.cat([rows, torch.zeros(len(rows), 1)], dim=1)
    others = sorted(set(vocab.values()) - set(ids.tolist()))  # the tokenizer's other tokens
    scale = embed[others].norm(dim=1).mean() / rows.norm(dim=1).mean()
    embed[ids] = (rows * scale).to(embed.dtype)


def extend_with_number_tokens(
    model: FastVlmForConditionalGeneration, tokenizer: PreTrainedTokenizerBase
) -> None:
    """Add the number tokens to a loaded checkpoint's tokenizer (`add_number_tokens`), grow its
    embeddings where they lack rows, and set the new rows (`init_number_embeddings`). A tokenizer
    without ``<image>`` whose image token id is its next id (Apple folders) gets ``<image>``
    first, so no number takes the image token's id."""
    _add_tokens(model, tokenizer, lambda: add_number_tokens(tokenizer), "--number-tokens")
    init_number_embeddings(model, tokenizer)


def _add_tokens(
    model: FastVlmForConditionalGeneration, tokenizer: PreTrainedTokenizerBase,
    add: Callable[[], int], option: str,
) -> int:  # fmt: skip
    """Run ``add`` (it adds tokens to a loaded checkpoint's tokenizer) and grow the model's
    embeddings, in steps of 64 rows, where they lack rows; returns what ``add`` returned. A
    tokenizer without ``<image>`` whose image token id is its next id (Apple folders) gets
    ``<image>`` first, so no new token takes the image token's id."""
    image_id = model.config.image_token_id
    if IMAGE_TOKEN not in tokenizer.get_vocab() and image_id == len(tokenizer):
        tokenizer.add_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)])
    before = len(tokenizer)
    added = add()
    if before <= image_id < len(tokenizer):
        raise ConfigError(f"the image token id {image_id} lies among the ids the new tokens "
                          f"would take: fine-tune without {option}")  # fmt: skip
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(64 * math.ceil(len(tokenizer) / 64), mean_resizing=False)
    return added


_WORD = re.compile(r"[A-Za-z]{2,}")


def instruction_words(instructions: Iterable[str], min_count: int, fixed_text: str) -> list[str]:
    """The words (two or more letters) of the distinct ``instructions`` that appear in at least
    ``min_count`` of them and nowhere in ``fixed_text`` (the prompts' own text, whose pieces a
    trained model has learnt), commonest first: each with the space before it (" green") or,
    where no space precedes it (first word, in quotes), bare ("Back")."""
    counts: Counter[str] = Counter()
    for text in set(instructions):
        counts.update({" " * (m.start() > 0 and text[m.start() - 1] == " ") + m[0]
                       for m in _WORD.finditer(text)})  # fmt: skip
    known = set(_WORD.findall(fixed_text))
    return [w for w, n in counts.most_common() if n >= min_count and w.strip() not in known]


def add_word_tokens(tokenizer: PreTrainedTokenizerBase, words: Iterable[str]) -> int:
    """Give each of ``words`` (`instruction_words`) one token of its own, matched before the
    BPE (a bare word only as a whole word, a spaced one after any space); returns how many
    are new.

    The data's BPE spends its merges on the prompts' fixed text, so an instruction's words
    fall apart into letters ("green" is g, ree, n): a small LLM then has to spell out every
    name before it can look for it, and `cell_words_loss` has no word to teach the image
    feature."""
    return tokenizer.add_tokens([AddedToken(w, single_word=not w.startswith(" "),
                                            normalized=False) for w in words])  # fmt: skip


@torch.no_grad()
def extend_with_word_tokens(
    model: FastVlmForConditionalGeneration, tokenizer: PreTrainedTokenizerBase,
    words: Iterable[str],
) -> int:  # fmt: skip
    """`add_word_tokens` for a trained checkpoint: the model's (tied) embeddings grow where
    they lack rows, and each new word's row starts as the mean of the pieces it was made of,
    so what the model learnt of them carries over. Returns how many tokens are new."""
    known = tokenizer.get_vocab()
    words = [w for w in words if w not in known]
    pieces = [tokenizer(w, add_special_tokens=False).input_ids for w in words]
    added = _add_tokens(
        model, tokenizer, lambda: add_word_tokens(tokenizer, words), "--word-tokens"
    )
    embed = model.get_input_embeddings().weight
    vocab = tokenizer.get_vocab()
    for word, ids in zip(words, pieces, strict=True):
        embed[vocab[word]] = embed[ids].mean(0)
    return added


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 1024, numbers: bool = False
) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on ``texts`` with Qwen2's chat special tokens and chat
    template. Digits and newlines are pieces of their own; other merges may span spaces.
    ``numbers`` adds `add_number_tokens`'s tokens after the special ones."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\d|\n"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator((p for t in texts for p in _SPECIAL.split(t) if p), trainer=trainer)
    bpe.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )  # fmt: skip
    if numbers:
        add_number_tokens(tokenizer)
    return tokenizer
