"""Each provider through its official SDK against the fake server: answers, faults, refusals, auth."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from loguru import logger

from image_annotator_lib.exceptions import ProviderAuthenticationError, ProviderUnavailableError
from image_annotator_lib.providers.prompt import PromptOptions
from tests.providers.fake_llm_server import USAGE_IN, USAGE_OUT, FakeRequest, expected_answer, running
from tests.providers.helpers import KINDS, TEST_KEYS, colour, flat_image, make_provider

N = 20


@pytest.mark.parametrize("kind", KINDS)
def test_twenty_images_all_annotated_each_with_its_own_answer(kind: str) -> None:
    with running() as server:
        provider = make_provider(kind, server)  # type: ignore[arg-type]
        results = provider.annotate_batch([flat_image(i) for i in range(N)])
        provider.unload()
    assert len(results) == N
    for i, result in enumerate(results):
        expected = expected_answer(colour(i))
        assert result.ok, result.failure
        assert [t.name for t in result.tags] == expected["tags"]
        assert result.caption == expected["caption"]
        assert result.score == expected["score"]
        assert result.usage.requests == 1 and result.usage.retries == 0
        assert (result.usage.input_tokens, result.usage.output_tokens) == (USAGE_IN, USAGE_OUT)
    assert len(server.annotation_requests()) == N
    assert {r.api_key for r in server.annotation_requests()} == {TEST_KEYS[kind]}
    body = server.annotation_requests()[0].body
    structured = {
        "openai": lambda: body["response_format"]["json_schema"]["schema"],
        "openai-compatible": lambda: body["response_format"]["json_schema"]["schema"],
        "anthropic": lambda: body["tools"][0]["input_schema"],
        "google": lambda: body["generationConfig"]["responseJsonSchema"],
    }[kind]()
    assert set(structured["properties"]) == {"tags", "caption", "score"}


def every_third_faulty(request: FakeRequest) -> str:
    if request.index % 3:
        return "ok"
    return "429" if request.index % 2 else "500"


@pytest.mark.parametrize("kind", KINDS)
def test_every_third_request_failing_still_annotates_all_and_counts_retries(kind: str) -> None:
    with running(every_third_faulty) as server:  # type: ignore[arg-type]
        provider = make_provider(kind, server, retry_attempts=10)  # type: ignore[arg-type]
        results = provider.annotate_batch([flat_image(i) for i in range(N)])
    assert all(r.ok for r in results), [r.failure for r in results if not r.ok]
    for i, result in enumerate(results):
        assert [t.name for t in result.tags] == expected_answer(colour(i))["tags"]
    sent = server.annotation_requests()
    faults = sum(1 for r in sent if r.index % 3 == 0)
    assert faults == len(sent) // 3 and faults >= 6
    assert sum(r.usage.retries for r in results) == faults
    assert sum(r.usage.requests for r in results) == len(sent)


@pytest.mark.parametrize("kind", KINDS)
def test_timeouts_are_retried(kind: str) -> None:
    with running(lambda r: "timeout" if r.index <= 2 else "ok", timeout_sleep=1.0) as server:
        provider = make_provider(kind, server, timeout=0.3, max_concurrency=1)  # type: ignore[arg-type]
        results = provider.annotate_batch([flat_image(i) for i in range(3)])
    assert all(r.ok for r in results)
    # Requests 1 and 2 time out. On a loaded machine an answer can also miss the 0.3 s deadline and
    # be retried (CI saw 3), so each retry must be one more request the server received.
    assert results[0].usage.retries >= 2
    assert sum(r.usage.retries for r in results) == len(server.requests) - len(results)
    assert sum(r.usage.requests for r in results) == len(server.requests)


@pytest.mark.parametrize("kind", KINDS)
def test_retries_exhausted_is_recorded_by_kind(kind: str) -> None:
    with running(lambda r: "500") as server:
        provider = make_provider(kind, server, retry_attempts=2)  # type: ignore[arg-type]
        (result,) = provider.annotate_batch([flat_image(1)])
    assert result.failure is not None and result.failure.kind == "server_error"
    assert result.usage.requests == 3 and result.usage.retries == 2
    assert TEST_KEYS[kind] not in result.failure.message  # the fake server echoes the key in 500s


RED = (255, 0, 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("behaviour", ["refusal", "content_filter"])
def test_refusals_are_policy_violations_never_retried(kind: str, behaviour: str) -> None:
    def script(request: FakeRequest) -> str:
        return behaviour if request.colour == RED else "ok"

    images = [flat_image(0), flat_image(5), flat_image(2)]  # colour(5) is pure red
    assert colour(5) == RED
    with running(script) as server:  # type: ignore[arg-type]
        results = make_provider(kind, server).annotate_batch(images)  # type: ignore[arg-type]
    assert [r.ok for r in results] == [True, False, True]
    failure = results[1].failure
    assert failure is not None and failure.kind == "policy_violation" and failure.is_policy_violation
    assert results[1].usage.requests == 1 and results[1].usage.retries == 0
    assert len(server.annotation_requests()) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_output_retried_once_then_recorded(kind: str) -> None:
    with running(lambda r: "malformed") as server:
        (result,) = make_provider(kind, server).annotate_batch([flat_image(3)])  # type: ignore[arg-type]
    assert result.failure is not None and result.failure.kind == "malformed_output"
    assert result.usage.requests == 2 and result.usage.retries == 1


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_then_good_answer_succeeds(kind: str) -> None:
    with running(lambda r: "malformed" if r.index == 1 else "ok") as server:
        (result,) = make_provider(kind, server).annotate_batch([flat_image(3)])  # type: ignore[arg-type]
    assert result.ok and result.usage.retries == 1


@pytest.mark.parametrize("kind", KINDS)
def test_free_text_answers_parsed_by_fallback(kind: str) -> None:
    with running(lambda r: "text") as server:
        provider = make_provider(kind, server, structured_output=False)  # type: ignore[arg-type]
        (result,) = provider.annotate_batch([flat_image(7)])
    expected = expected_answer(colour(7))
    assert [t.name for t in result.tags] == expected["tags"]
    assert result.caption == expected["caption"] and result.score == expected["score"]
    body = server.annotation_requests()[0].body
    assert "response_format" not in body and "tools" not in body
    assert "responseJsonSchema" not in body.get("generationConfig", {})


@pytest.mark.parametrize("kind", KINDS)
def test_401_stops_the_batch_with_one_clear_line_and_no_key(kind: str) -> None:
    with running(required_key="the-right-key") as server:
        provider = make_provider(kind, server, max_concurrency=2)  # type: ignore[arg-type]
        with pytest.raises(ProviderAuthenticationError) as caught:
            provider.annotate_batch([flat_image(i) for i in range(N)])
    message = str(caught.value)
    assert "\n" not in message and "authentication failed" in message
    assert TEST_KEYS[kind] not in message
    assert len(server.annotation_requests()) <= 2  # in-flight ones only; the rest never sent


@pytest.mark.parametrize("kind", ["openai", "anthropic", "google"])
def test_hosted_provider_without_key_is_refused(kind: str) -> None:
    with running() as server:
        provider = make_provider(kind, server, api_key="")  # type: ignore[arg-type]
        with pytest.raises(ProviderUnavailableError, match="no API key"):
            provider.annotate_batch([flat_image(0)])
    assert server.annotation_requests() == []


def test_openai_compatible_server_needs_no_key() -> None:
    with running() as server:
        provider = make_provider("openai-compatible", server, api_key="")
        (result,) = provider.annotate_batch([flat_image(4)])
    assert result.ok


def test_chosen_fields_and_additional_prompt_are_sent() -> None:
    prompt = PromptOptions.of(["tags"], additional="Always include the tag 'test set'.")
    with running() as server:
        (result,) = make_provider("openai", server, prompt=prompt).annotate_batch([flat_image(9)])
    body = server.annotation_requests()[0].body
    system = body["messages"][0]["content"]
    assert "Always include the tag 'test set'." in system and '"caption"' not in system
    assert list(body["response_format"]["json_schema"]["schema"]["properties"]) == ["tags"]
    assert result.caption is None and result.score is None and result.tags


@pytest.mark.parametrize("kind", KINDS)
def test_key_never_logged_even_at_debug(kind: str) -> None:
    sink = io.StringIO()
    handler = logger.add(sink, level="DEBUG")
    try:
        with running(lambda r: "500" if r.index % 2 else "ok") as server:
            make_provider(kind, server).annotate_batch([flat_image(i) for i in range(4)])  # type: ignore[arg-type]
    finally:
        logger.remove(handler)
    text = sink.getvalue()
    assert "retry" in text  # the retries were logged ...
    assert TEST_KEYS[kind] not in text  # ... without the key the server echoed back


def test_requests_are_bounded_by_max_concurrency() -> None:
    import threading

    lock = threading.Lock()
    in_flight = Counter[str]()
    peak = 0

    def script(request: FakeRequest) -> str:
        nonlocal peak
        with lock:
            in_flight["now"] += 1
            peak = max(peak, in_flight["now"])
        threading.Event().wait(0.05)
        with lock:
            in_flight["now"] -= 1
        return "ok"

    with running(script) as server:  # type: ignore[arg-type]
        make_provider("openai", server, max_concurrency=3).annotate_batch([flat_image(i) for i in range(12)])
    assert 1 <= peak <= 3
