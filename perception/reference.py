"""Configs of Apple's released FastVLM models, for building same-shaped models (random weights
in benchmarks and slow tests) without downloading anything."""

from __future__ import annotations

from typing import Any

from transformers import FastVlmConfig

from perception.checkpoints import apple_config_to_hf

FASTVLM_05B_APPLE_CONFIG: dict[str, Any] = {  # config.json of apple/FastVLM-0.5B
    "architectures": ["LlavaQwen2ForCausalLM"],
    "model_type": "llava_qwen2",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "max_window_layers": 24,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "use_sliding_window": False,
    "tie_word_embeddings": True,
    "vocab_size": 151936,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "torch_dtype": "bfloat16",
    "image_aspect_ratio": "pad",
    "mm_hidden_size": 3072,
    "mm_patch_merge_type": "flat",
    "mm_projector_type": "mlp2x_gelu",
    "mm_use_im_patch_token": False,
    "mm_use_im_start_end": False,
    "mm_vision_select_feature": "patch",
    "mm_vision_select_layer": -2,
    "mm_vision_tower": "mobileclip_l_1024",
    "tokenizer_model_max_length": 8192,
    "tokenizer_padding_side": "right",
}


def fastvlm_05b_config() -> FastVlmConfig:
    """The FastVLM-0.5B architecture (FastViTHD + Qwen2-0.5B) as a ``fast_vlm`` config."""
    return apple_config_to_hf(FASTVLM_05B_APPLE_CONFIG)
