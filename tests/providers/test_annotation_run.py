"""Acceptance: `AnnotationService` over a real project, each provider kind against the fake server."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from loguru import logger
from sqlalchemy import select

from lorairo.annotations.ai_annotator import build_registry
from lorairo.database.schema import Caption, Image, Score, Tag
from lorairo.errors import AuthenticationError, ConfigurationError
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.annotation_store import AnnotationStore
from tests.providers.app_setup import KEY_ENV, MODELS, project_with_images, set_keys, write_config
from tests.providers.fake_llm_server import USAGE_IN, FakeRequest, expected_answer, running
from tests.providers.helpers import KINDS, TEST_KEYS, colour

N = 20
REFUSED = {colour(5), colour(11)}


def faulty_and_refusing(request: FakeRequest) -> str:
    """Every third request fails (429 or 500); two particular images are always refused."""
    if request.index % 3 == 0:
        return "429" if request.index % 2 else "500"
    return "refusal" if request.colour in REFUSED else "ok"


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    sink = io.StringIO()
    handler = logger.add(sink, level="DEBUG")
    yield sink
    logger.remove(handler)


@pytest.mark.parametrize("kind", KINDS)
def test_twenty_images_with_faults_and_refusals(
    kind: str, debug_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = MODELS[kind]
    with running(faulty_and_refusing) as server:  # type: ignore[arg-type]
        set_keys(monkeypatch)
        config = write_config(server)
        project, _ = project_with_images(config, N)
        try:
            report = AnnotationService(project, config).run([model])
            sent = server.annotation_requests()
            faults = sum(1 for r in sent if r.index % 3 == 0)

            assert report.images_selected == N
            assert report.images_annotated == N - len(REFUSED)
            assert report.policy_violations == len(REFUSED) and report.failures == len(REFUSED)
            assert report.requests == len(sent) and report.retries == faults and faults > 0
            assert report.input_tokens == USAGE_IN * (len(sent) - faults)

            with project.database.read_session() as session:
                rows = session.execute(select(Image.id, Image.name)).all()
                for image_id, name in rows:
                    i = int(name[3:6])
                    tags = session.scalars(
                        select(Tag.tag).where(Tag.image_id == image_id).order_by(Tag.position)
                    ).all()
                    caption = session.scalar(select(Caption.caption).where(Caption.image_id == image_id))
                    score = session.scalar(select(Score.score).where(Score.image_id == image_id))
                    if colour(i) in REFUSED:
                        assert tags == [] and caption is None
                    else:
                        expected = expected_answer(colour(i))
                        assert tags == expected["tags"]
                        assert caption == expected["caption"] and score == expected["score"]
            repository = AnnotationStore(project.database)
            total, failures = repository.list_failures(model)
            assert total == len(REFUSED)
            assert all(f.is_policy_violation and f.reason == "policy_violation" for f in failures)

            # The next run skips the refused images and says so; nothing else is left to do.
            before = len(server.annotation_requests())
            again = AnnotationService(project, config).run([model])
            assert again.violations_skipped == len(REFUSED)
            assert again.images_annotated == 0 and again.requests == 0
            assert len(server.annotation_requests()) == before

            # Unless asked to retry them.
            server.script = lambda r: "refusal" if r.colour in REFUSED else "ok"
            retried = AnnotationService(project, config).run([model], retry_violations=True)
            assert retried.violations_skipped == 0 and retried.requests == len(REFUSED)
        finally:
            project.close()
    key = TEST_KEYS[kind]
    assert any(r.api_key == key for r in sent)  # the key was used ...
    assert key not in debug_log.getvalue()  # ... never logged (the fake 500s echo it back)
    assert "retry" in debug_log.getvalue()
    for path in project.root.glob("database.db*"):
        assert key.encode() not in path.read_bytes()  # ... and never stored


@pytest.mark.parametrize("kind", KINDS)
def test_401_stops_the_run_with_one_clear_line(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(required_key="not-what-the-user-set") as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project, _ = project_with_images(config, 6)
        try:
            with pytest.raises(AuthenticationError) as caught:
                AnnotationService(project, config).run([MODELS[kind]], batch_size=3)
            repository = AnnotationStore(project.database)
            assert repository.list_failures()[0] == 0  # nothing recorded against the images
        finally:
            project.close()
    message = str(caught.value)
    assert "\n" not in message and "authentication failed" in message
    assert TEST_KEYS[kind] not in message
    assert len(server.annotation_requests()) <= 4  # stopped within the first batch


def test_providers_without_keys_are_hidden_and_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with running() as server:
        config = write_config(server)
        monkeypatch.delenv("LOCAL_LLM_KEY", raising=False)
        names = build_registry(config).names()
        assert not any(name.startswith(("openai/", "anthropic/", "google/", "local/")) for name in names)
        project, _ = project_with_images(config, 1)
        try:
            with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
                AnnotationService(project, config).run(["openai/gpt-4o"])
        finally:
            project.close()
        monkeypatch.setenv(KEY_ENV["openai"], TEST_KEYS["openai"])
        assert "openai/gpt-test" in build_registry(write_config(server)).names()
    assert server.annotation_requests() == []


def test_unlisted_model_of_a_configured_provider_is_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    with running() as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project, _ = project_with_images(config, 2)
        try:
            report = AnnotationService(project, config).run(["anthropic/claude-other"])
        finally:
            project.close()
    assert report.images_annotated == 2
    assert {r.body["model"] for r in server.annotation_requests()} == {"claude-other"}


def test_prompt_settings_reach_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    with running() as server:
        set_keys(monkeypatch)
        config = write_config(
            server, extra='[prompts]\nadditional = "Use British spelling."\nfields = ["caption"]\n'
        )
        project, _ = project_with_images(config, 1)
        try:
            AnnotationService(project, config).run(["local/qwen-test"])
            with project.database.read_session() as session:
                assert session.scalars(select(Tag.tag)).all() == []
                assert session.scalar(select(Caption.caption)) == expected_answer(colour(0))["caption"]
        finally:
            project.close()
    system = server.annotation_requests()[0].body["messages"][0]["content"]
    assert "Use British spelling." in system
