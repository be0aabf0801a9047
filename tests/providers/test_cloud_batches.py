"""Anthropic Message Batches and Gemini batch mode through the real SDKs: submit, status, import,
and an import repeated changing nothing, as for OpenAI's Batch API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from lorairo.database.schema import Tag
from tests.providers.app_setup import MODELS, project_with_images, set_keys, write_config
from tests.providers.fake_llm_server import USAGE_IN, FakeRequest, expected_answer, running
from tests.providers.helpers import TEST_KEYS, colour
from tests.providers.test_batch import assert_reimport_changes_nothing, run_cli

RED, BROKEN = colour(5), colour(3)


@pytest.mark.parametrize("kind", ["anthropic", "google"])
def test_submit_status_import_and_reimport(
    kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def script(request: FakeRequest) -> str:
        return {RED: "refusal", BROKEN: "500"}.get(request.colour or (0, 0, 0), "ok")

    model = MODELS[kind]
    with running(script, required_key=TEST_KEYS[kind], batch_polls_until_complete=2) as server:  # type: ignore[arg-type]
        set_keys(monkeypatch)
        config = write_config(server)
        project, ids = project_with_images(config, 8)
        project.close()

        code, submitted, _ = run_cli(capsys, "annotate", "batch", "submit", "-m", model, "-p", "llm")
        assert code == 0, submitted
        assert submitted["requests"] == 8 and submitted["job"]["status"] == "in_progress"
        request_file = Path(submitted["request_file"])
        lines = [json.loads(line) for line in request_file.read_text(encoding="utf-8").splitlines()]
        key = "custom_id" if kind == "anthropic" else "key"
        assert len({line[key] for line in lines}) == 8
        assert len(server.annotation_requests(kind)) == 8  # all sent in one batch

        code, status, _ = run_cli(capsys, "annotate", "batch", "status", "-p", "llm")
        assert code == 0 and status["jobs"][0]["status"] == "in_progress"  # first poll: not done
        code, imported, _ = run_cli(capsys, "annotate", "batch", "import", "-p", "llm")
        (first,) = imported["imports"]
        assert code == 0, imported
        assert first["annotated"] == 6 and first["failures"] == 2 and first["policy_violations"] == 1
        assert first["input_tokens"] == 7 * USAGE_IN  # the errored request reports no usage

        database = assert_reimport_changes_nothing(capsys, config, first["file"], stored=8)
        with database.read_session() as session:
            for i, image_id in enumerate(ids):
                tags = session.scalars(
                    select(Tag.tag).where(Tag.image_id == image_id).order_by(Tag.position)
                ).all()
                assert list(tags) == (
                    [] if colour(i) in (RED, BROKEN) else expected_answer(colour(i))["tags"]
                )
        database.close()

        # Only the failed image is missing; the refused one is skipped.
        code, retry, _ = run_cli(capsys, "annotate", "batch", "submit", "-m", model, "-p", "llm")
        assert code == 0 and retry["requests"] == 1 and retry["violations_skipped"] == 1

    secret = TEST_KEYS[kind].encode()
    for path in [*config.batch_results_dir.iterdir(), *(config.database_dir / "llm").glob("database.db*")]:
        assert secret not in path.read_bytes()


@pytest.mark.parametrize("kind", ["anthropic", "google"])
def test_wrong_key_is_one_line(
    kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(required_key="the-real-key") as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project_with_images(config, 2)[0].close()
        code, error, err = run_cli(capsys, "annotate", "batch", "submit", "-m", MODELS[kind], "-p", "llm")
    assert code == 1 and error["error"]["type"] == "AuthenticationError"
    assert len(err.strip().splitlines()) == 1 and TEST_KEYS[kind] not in err
