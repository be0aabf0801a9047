"""`api = "responses"`: OpenAI's Responses API through the real openai SDK against the fake server."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lorairo.database.schema import Caption, Tag
from lorairo.errors import ConfigurationError, ModelNotAvailableError
from lorairo.services.annotation_service import AnnotationService
from tests.providers.app_setup import project_with_images, set_keys, write_config
from tests.providers.fake_llm_server import USAGE_THINKING, FakeRequest, expected_answer, running
from tests.providers.helpers import colour

RESPONSES = (
    '[ai_providers.resp]\nkind = "openai"\napi = "responses"\napi_key_env = "OPENAI_API_KEY"\n'
    'base_url = "{url}"\nretry_base_delay = 0.01\nrate_limit_requests_per_minute = 600000\n'
)


def test_responses_api_annotates_refuses_and_counts_reasoning(monkeypatch: pytest.MonkeyPatch) -> None:
    refused, flaky, failed_once = colour(2), colour(1), []

    def script(request: FakeRequest) -> str:
        if request.colour == flaky and not failed_once:
            failed_once.append(request.index)
            return "500"
        return "refusal" if request.colour == refused else "ok"

    with running(script) as server:  # type: ignore[arg-type]
        set_keys(monkeypatch)
        config = write_config(server, extra=RESPONSES.format(url=server.openai_base_url))
        project, ids = project_with_images(config, 4)
        try:
            report = AnnotationService(project, config).run(["resp/gpt-responses-only"])
            with project.database.read_session() as session:
                tags = session.scalars(
                    select(Tag.tag).where(Tag.image_id == ids[0]).order_by(Tag.position)
                ).all()
                caption = session.scalar(select(Caption.caption).where(Caption.image_id == ids[0]))
        finally:
            project.close()
    sent = server.annotation_requests()
    assert {r.protocol for r in sent} == {"responses"} and not [r for r in server.raw if "chat" in r.path]
    body = sent[0].body
    assert body["model"] == "gpt-responses-only" and body["store"] is False
    assert body["text"]["format"]["type"] == "json_schema" and "instructions" in body
    assert report.images_annotated == 3 and report.policy_violations == 1 and report.retries == 1
    assert report.thinking_tokens == USAGE_THINKING * 4  # three answers and the refusal, not the 500
    assert (
        list(tags) == expected_answer(colour(0))["tags"] and caption == expected_answer(colour(0))["caption"]
    )


def test_responses_404_stops_and_api_is_refused_for_other_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    with running(lambda request: "404") as server:
        set_keys(monkeypatch)
        config = write_config(server, extra=RESPONSES.format(url=server.openai_base_url))
        project, _ = project_with_images(config, 3)
        try:
            with pytest.raises(ModelNotAvailableError, match="'gone' not found at provider 'resp'"):
                AnnotationService(project, config).run(["resp/gone"])
        finally:
            project.close()
        bad = write_config(
            server,
            extra=f'[ai_providers.claude2]\nkind = "anthropic"\napi = "responses"\nbase_url = "{server.url}"\n'
            'api_key_env = "ANTHROPIC_API_KEY"\n',
        )
        other, _ = project_with_images(bad, 1, name="other")
        try:
            with pytest.raises(ConfigurationError, match="responses"):
                AnnotationService(other, bad).run(["claude2/x"])
        finally:
            other.close()
