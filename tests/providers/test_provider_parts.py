"""The provider building blocks on their own: parsing, prompt, backoff, Retry-After, encoding, limiter."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from image_annotator_lib.providers.image_encoding import encode_image
from image_annotator_lib.providers.parsing import MalformedOutputError, parse_annotation
from image_annotator_lib.providers.prompt import PromptOptions, build_prompt
from image_annotator_lib.providers.rate_limit import RateLimiter, limiter_for
from image_annotator_lib.providers.retry import RetryPolicy, classify_status, parse_retry_after
from image_annotator_lib.providers.settings import ProviderSettings


def test_structured_dict_and_json_string() -> None:
    parsed = parse_annotation({"tags": ["1girl", " solo ", "1girl"], "caption": " A girl. ", "score": 7})
    assert parsed.tags == ["1girl", "solo"] and parsed.caption == "A girl." and parsed.score == 7.0
    assert parse_annotation('{"tags": "a, b", "caption": "c", "score": "8/10"}').tags == ["a", "b"]


def test_json_inside_prose_and_code_fence() -> None:
    text = 'Sure!\n```json\n{"tags": ["cat"], "caption": "A cat.", "score": 12}\n```\nHope that helps.'
    parsed = parse_annotation(text)
    assert parsed.tags == ["cat"] and parsed.score == 10.0  # clamped to the 1-10 scale
    assert parse_annotation('The answer is {"caption": "A dog."} ok').caption == "A dog."


def test_tags_caption_blocks() -> None:
    text = "**Tags:** 1girl, long hair,\nsmile\n**Caption:** A smiling girl\nwith long hair.\nScore: 6.5"
    parsed = parse_annotation(text)
    assert parsed.tags == ["1girl", "long hair", "smile"]
    assert parsed.caption == "A smiling girl with long hair."
    assert parsed.score == 6.5


@pytest.mark.parametrize("answer", ["", None, "I cannot help with that.", '{"tags": ["x"', {"other": 1}])
def test_unusable_answers_are_malformed(answer: object) -> None:
    with pytest.raises(MalformedOutputError):
        parse_annotation(answer)  # type: ignore[arg-type]


def test_unrequested_fields_are_dropped() -> None:
    parsed = parse_annotation({"tags": ["a"], "caption": "b", "score": 3}, fields=["caption"])
    assert parsed.tags == [] and parsed.caption == "b" and parsed.score is None
    with pytest.raises(MalformedOutputError):
        parse_annotation({"tags": ["a"]}, fields=["caption"])


@given(st.text())
def test_parser_never_raises_anything_but_malformed(text: str) -> None:
    with contextlib.suppress(MalformedOutputError):
        parse_annotation(text)


def test_prompt_fields_and_schema() -> None:
    prompt = build_prompt(PromptOptions.of(["caption", "score"], additional="Mention the lighting."))
    assert prompt.schema["required"] == ["caption", "score"]
    assert "Mention the lighting." in prompt.system and '"tags"' not in prompt.system
    with pytest.raises(ValueError, match="unknown prompt fields"):
        PromptOptions.of(["tags", "mood"])


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after({"retry-after": later}) or 0) <= 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=8.0)
    for n, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        delays = [policy.delay(n) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert all(policy.delay(1, retry_after=20.0) == 20.0 for _ in range(10))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, "auth"),
        (403, "auth"),
        (429, "rate_limited"),
        (408, "timeout"),
        (500, "server_error"),
        (503, "server_error"),
        (400, "fatal"),
        (404, "model_not_found"),
    ],
)
def test_status_classification(status: int, kind: str) -> None:
    error = classify_status(status, "x", retry_after=1.0)
    assert error.kind == kind
    assert error.retryable == (kind in {"rate_limited", "timeout", "server_error"})


def test_encoding_downscales_flattens_and_never_upscales() -> None:
    big = Image.new("RGBA", (3000, 1500), (10, 20, 30, 0))
    encoded = encode_image(big)
    assert (encoded.width, encoded.height) == (1024, 512) and encoded.media_type == "image/jpeg"
    with Image.open(__import__("io").BytesIO(encoded.raw)) as decoded:
        assert decoded.mode == "RGB" and decoded.getpixel((5, 5)) == (255, 255, 255)
    small = encode_image(Image.new("L", (100, 60)), fmt="WEBP")
    assert (small.width, small.height) == (100, 60) and small.data_url.startswith("data:image/webp;base64,")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_rate_limiter_spaces_requests_after_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, burst=2, clock=clock.time, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits[:2] == [0.0, 0.0]
    assert all(w > 0 for w in waits[2:])
    assert clock.now == pytest.approx(3.0)  # 60/min after a burst of 2: requests 3..5 at 1 s spacing


def test_rate_limiter_is_thread_safe() -> None:
    clock = FakeClock()
    limiter = RateLimiter(120, burst=1, clock=clock.time, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        wait = limiter.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([0.5 * i for i in range(20)])  # every reservation distinct


def test_limiter_shared_per_provider() -> None:
    assert limiter_for("p-shared", 30) is limiter_for("p-shared", 30)
    assert limiter_for("p-shared", 31) is not limiter_for("p-other", 31)


def test_settings_repr_hides_key_and_scrub_removes_it() -> None:
    settings = ProviderSettings(kind="openai", name="openai", api_key="sk-secret-value-123456")
    assert "sk-secret" not in repr(settings)
    assert settings.scrub("bad key sk-secret-value-123456!") == "bad key ***!"
    with pytest.raises(ValueError, match="unknown provider kind"):
        ProviderSettings(kind="mistral", name="m")  # type: ignore[arg-type]
