"""Train a FastVLM on collected demonstrations, on the CPU or CUDA, resumably.

Usage::

    agent-sdk collect --suite ui --episodes 200 --out data/ui
    agent-sdk train --config small --data data/ui --out ckpt/small --steps 4000 --eval-every 500
    agent-sdk train ... --ground 0.5 --ground-end 0.1  # grounding examples: see `Grounding`
    agent-sdk train ... --spotlight 0.6 --spotlight-max 160  # partial screens: see `Spotlight`
    agent-sdk train ... --number-tokens  # one token per coordinate value: `add_number_tokens`
    agent-sdk train ... --resume                      # after a crash or Ctrl-C: goes on exactly
    agent-sdk train --init checkpoints/fastvlm-0.5b --data data/ui --out ckpt/ft [--lora 16]
    agent-sdk eval --suite ui --policy vlm --model ckpt/small --episodes 20 --out runs/small

The model is transformers' ``FastVlmForConditionalGeneration``: a narrow timm ``fastvit_mci3``
(FastViTHD's five stages, the last two attention; trained in timm's train-time form, MobileOne
branches with BatchNorm, and saved re-parameterised like real FastVLM folders), the two-layer GELU
projector and a small Qwen2, with a byte-level BPE tokenizer trained on the data's own prompts
and answers (Qwen2's chat special tokens; digits one token each; pieces may span spaces, so the
fixed parts of the prompt cost a few tokens). ``--init DIR`` fine-tunes a real checkpoint with
its own tokenizer instead (hf or apple layout), fully or with LoRA (``pip install
"fastvlm-agent-sdk[train]"``): rank-R adapters on the LLM's attention and MLP projections plus
the projector train, the rest stays frozen; each save merges the adapters into a copy, so
``OUT`` is a plain checkpoint that loads without peft (the adapters and optimizer go on in
``train_state`` for ``--resume``, which must name the same ``--init`` and ``--lora``).

Each example is ``chat_prompt(step_prompt(...))`` with the image's tokens spliced in at
``<image>``, tokenised in the two pieces the backend tokenises, then the answer and
``<|im_end|>``; the loss covers the answer tokens and the stop token only.

``OUT`` is at all times a checkpoint folder that ``perception.load_vlm`` loads (written with
``save_fastvlm_checkpoint``; what ``--eval-every`` evaluates) plus ``train_state/state.pt``
(optimizer, scheduler, step, RNG, data position, a new model's train-time weights) and
``run.json`` (config, data hashes, loss curve, evaluations, throughput).
"""

from agent_sdk.train.data import (
    CENTRED_HALF,
    GROUND_INSTRUCTION,
    CopyText,
    Dataset,
    Grounding,
    PackedImages,
    Spotlight,
    answer_loss,
    build_dataset,
    cell_words_loss,
    collate,
    copied_text,
    copies,
    encode_example,
    ground_answer,
    label_mask,
    pointer_loss,
    target_cell,
    tower_features,
)
from agent_sdk.train.loop import RUN_RECORD, STATE, Progress, TrainConfig, Trainer, lr_factor, train
from agent_sdk.train.model import (
    NUMBERS,
    SIZES,
    ModelSize,
    add_number_tokens,
    extend_with_number_tokens,
    model_config,
    train_tokenizer,
)

__all__ = [
    "CENTRED_HALF",
    "GROUND_INSTRUCTION",
    "NUMBERS",
    "RUN_RECORD",
    "SIZES",
    "STATE",
    "CopyText",
    "Dataset",
    "Grounding",
    "ModelSize",
    "PackedImages",
    "Progress",
    "Spotlight",
    "TrainConfig",
    "Trainer",
    "add_number_tokens",
    "answer_loss",
    "build_dataset",
    "cell_words_loss",
    "collate",
    "copied_text",
    "copies",
    "encode_example",
    "extend_with_number_tokens",
    "ground_answer",
    "label_mask",
    "lr_factor",
    "model_config",
    "pointer_loss",
    "target_cell",
    "tower_features",
    "train",
    "train_tokenizer",
]
