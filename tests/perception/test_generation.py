"""What every backend's ``generate`` and ``stream`` promise (perception.generation.DecodeLoop
over each backend's decode loop), checked on the same tiny checkpoint on PyTorch and on MLX."""

from __future__ import annotations

import re

import numpy as np
import pytest
from needs import need
from screens import screen

from perception.base import Generation, VisionLanguageModel, load_vlm
from perception.checkpoints import convert_checkpoint
from perception.errors import PerceptionError
from perception.mlx_convert import mlx_missing
from perception.tiny import save_tiny_checkpoint


@pytest.fixture(scope="module", params=["torch", "mlx"])
def vlm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> VisionLanguageModel:
    root = tmp_path_factory.mktemp(request.param)
    hf = save_tiny_checkpoint(root / "hf", "hf", seed=1)
    if request.param == "torch":
        return load_vlm(hf, backend="torch", device="cpu")
    need(mlx_missing())
    return load_vlm(convert_checkpoint(hf, root / "mlx", to="mlx"), device="cpu")


def test_generation_is_typed_timed_and_sums_up(vlm: VisionLanguageModel) -> None:
    assert isinstance(vlm, VisionLanguageModel) and vlm.backend in ("torch", "mlx")
    assert (vlm.device, vlm.dtype) == ("cpu", "float32")
    gen = vlm.generate(screen(), "Describe the screen.", max_new_tokens=12)
    assert isinstance(gen, Generation) and gen.finish_reason in ("stop", "length")
    assert 0 < len(gen.token_ids) <= 12
    assert gen.text == vlm.tokenizer.decode(gen.token_ids, skip_special_tokens=True).strip()
    t = gen.timings
    assert t.num_image_tokens == vlm.num_image_tokens == (vlm.image_size // 64) ** 2 == 16
    assert t.num_prompt_tokens > t.num_image_tokens
    assert min(t.preprocess_s, t.vision_encode_s, t.prefill_s, t.ttft_s) > 0
    assert t.vision_encode_s + t.prefill_s <= t.ttft_s <= 1.05 * (t.vision_encode_s + t.prefill_s)
    assert t.num_generated_tokens == len(gen.token_ids)
    assert (t.decode_tokens_per_s > 0) == (len(gen.token_ids) > 1)


def test_stream_yields_the_same_text_as_generate(vlm: VisionLanguageModel) -> None:
    full = vlm.generate(screen(6), "Tell me", max_new_tokens=10)
    pieces = list(vlm.stream(screen(6), "Tell me", max_new_tokens=10))
    assert len(pieces) >= 1 and "".join(pieces).strip() == full.text
    last = vlm.last_generation  # type: ignore[attr-defined]
    assert last is not None and last.token_ids == full.token_ids


def test_batched_generation_matches_one_by_one(vlm: VisionLanguageModel) -> None:
    prompts = ["Short?", "A much longer question about the screen and its buttons?"]
    images = [screen(4), screen(5, (160, 210))]
    batched = vlm.generate(images, prompts, max_new_tokens=6)
    single = [vlm.generate(i, p, max_new_tokens=6) for i, p in zip(images, prompts, strict=True)]
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]
    assert batched[0].timings.num_prompt_tokens == single[1].timings.num_prompt_tokens


def test_sampling_is_reproducible_with_a_seed(vlm: VisionLanguageModel) -> None:
    kw = {"max_new_tokens": 8, "temperature": 1.0, "seed": 3}
    a = vlm.generate(screen(), "Hi", **kw).token_ids  # type: ignore[arg-type]
    assert vlm.generate(screen(), "Hi", **kw).token_ids == a  # type: ignore[arg-type]
    other = vlm.generate(screen(), "Hi", **{**kw, "seed": 4}).token_ids  # type: ignore[arg-type]
    assert other != a


def test_bad_calls_give_clear_errors(vlm: VisionLanguageModel) -> None:
    with pytest.raises(PerceptionError, match="H x W x 3 uint8"):
        vlm.generate(np.zeros((4, 4)), "x")
    with pytest.raises(PerceptionError, match="cannot read image"):
        vlm.generate("/nonexistent/shot.png", "x")
    with pytest.raises(PerceptionError, match="max_new_tokens"):
        vlm.generate(screen(), "x", max_new_tokens=0)
    with pytest.raises(PerceptionError, match="temperature"):
        vlm.generate(screen(), "x", temperature=-1.0)
    with pytest.raises(PerceptionError, match="same"):
        vlm.generate([screen()], ["a", "b"])


ANSWER = r"(click|scroll)\((1000|[1-9][0-9]{0,2}|0), (1000|[1-9][0-9]{0,2}|0)\)"


@pytest.mark.parametrize("temperature", [0.0, 1.5])
def test_a_grammar_bounds_every_answer(vlm: VisionLanguageModel, temperature: float) -> None:
    # random weights: free decoding writes noise, under the grammar it writes an action
    free = vlm.generate(screen(2), "Where?", max_new_tokens=16, temperature=temperature, seed=3)
    assert not re.fullmatch(ANSWER, free.text)
    for seed in range(4):
        gen = vlm.generate(screen(seed), "Where?", max_new_tokens=16, temperature=temperature,
                           seed=seed, grammar=f"start: /{ANSWER}/")  # fmt: skip
        assert re.fullmatch(ANSWER, gen.text), gen.text
        assert gen.finish_reason == "stop"  # the grammar ended, then only a stop token could


def test_a_grammar_holds_in_batches_and_streams(vlm: VisionLanguageModel) -> None:
    grammar = f"start: /{ANSWER}/"
    images, prompts = [screen(4), screen(5, (160, 210))], ["Short?", "A much longer question?"]
    batched = vlm.generate(images, prompts, max_new_tokens=16, grammar=grammar)
    single = [vlm.generate(i, p, max_new_tokens=16, grammar=grammar)
              for i, p in zip(images, prompts, strict=True)]  # fmt: skip
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]
    assert all(re.fullmatch(ANSWER, g.text) for g in batched)
    streamed = "".join(vlm.stream(images[0], prompts[0], max_new_tokens=16, grammar=grammar))
    assert streamed.strip() == single[0].text


def test_a_grammar_cut_short_by_the_budget_says_length(vlm: VisionLanguageModel) -> None:
    gen = vlm.generate(screen(), "Where?", max_new_tokens=2, grammar=f"start: /{ANSWER}/")
    assert gen.finish_reason == "length" and len(gen.token_ids) == 2
    text = gen.text  # a prefix of an answer
    assert any(w.startswith(text) for w in ("click(", "scroll(")) or re.fullmatch(
        r"(click|scroll)\([0-9]*", text
    ), text


def test_a_bad_grammar_is_refused_before_decoding(vlm: VisionLanguageModel) -> None:
    with pytest.raises(PerceptionError, match=r"(?s)not valid Lark.*unclosed group"):
        vlm.generate(screen(), "Where?", grammar="start: /click(/")
