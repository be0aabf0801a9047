"""A retired or misspelt model (HTTP 404 / model-not-found) stops the run at once, recording nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lorairo.database.schema import AnnotationFailure, Caption, ModelAnnotation, Tag
from lorairo.errors import ModelNotAvailableError
from lorairo.services.annotation_service import AnnotationService
from tests.providers.app_setup import MODELS, project_with_images, set_keys, write_config
from tests.providers.fake_llm_server import FakeRequest, running
from tests.providers.helpers import KINDS, TEST_KEYS
from tests.providers.test_batch import run_cli


@pytest.mark.parametrize("kind", KINDS)
def test_404_stops_the_run_with_no_per_image_rows(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(lambda request: "404") as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project, _ = project_with_images(config, 12)
        try:
            with pytest.raises(ModelNotAvailableError) as caught:
                AnnotationService(project, config).run([MODELS[kind]], batch_size=4)
            with project.database.read_session() as session:
                for table in (AnnotationFailure, Tag, Caption, ModelAnnotation):
                    assert session.scalar(select(func.count()).select_from(table)) == 0, table
        finally:
            project.close()
    provider, model = MODELS[kind].split("/")
    message = str(caught.value)
    assert "\n" not in message
    assert f"model {model!r} not found at provider {provider!r}" in message
    assert TEST_KEYS[kind] not in message
    assert len(server.annotation_requests()) <= 4  # the first batch only, no retries


def test_400_naming_an_unknown_model_stops_too_but_other_400s_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """vLLM and LM Studio say "model ... does not exist" with 400; a plain 400 stays per image."""
    from image_annotator_lib.providers.retry import classify_status

    assert classify_status(400, "The model `qwen-x` does not exist.").kind == "model_not_found"
    assert classify_status(404, "").kind == "model_not_found"
    assert classify_status(400, "Invalid image: could not decode").kind == "fatal"
    assert classify_status(400, "Unknown parameter: 'foo'").kind == "fatal"


def test_cli_prints_one_line_and_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def retired(request: FakeRequest) -> str:
        return "404" if request.body.get("model") == "gpt-retired" else "ok"

    with running(retired) as server:  # type: ignore[arg-type]
        set_keys(monkeypatch)
        config = write_config(server)
        project_with_images(config, 3)[0].close()
        code, error, err = run_cli(capsys, "annotate", "run", "-m", "openai/gpt-retired", "-p", "llm")
        assert code == 2 and error["error"]["type"] == "ModelNotAvailableError"
        assert len(err.strip().splitlines()) == 1
        assert "'gpt-retired' not found at provider 'openai'" in err
        code, done, _ = run_cli(capsys, "annotate", "run", "-m", "openai/gpt-test", "-p", "llm")
        assert code == 0 and done["images_annotated"] == 3
