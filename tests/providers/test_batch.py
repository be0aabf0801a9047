"""The OpenAI Batch API: request files, the fake batches/files endpoints, import idempotency, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from image_annotator_lib.providers import batch_api
from image_annotator_lib.providers.image_encoding import encode_image
from image_annotator_lib.providers.prompt import PromptOptions, build_prompt
from lorairo.cli.main import main
from lorairo.database.engine import Database
from lorairo.database.schema import AnnotationFailure, BatchJob, Caption, ModelAnnotation, Score, Tag
from lorairo.services.configuration_service import ConfigurationService
from tests.providers.app_setup import project_with_images, set_keys, write_config
from tests.providers.fake_llm_server import FakeRequest, expected_answer, running
from tests.providers.helpers import TEST_KEYS, colour, flat_image

RED = colour(5)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    """Run `lorairo --json ...` in-process; return exit code, the JSON object and stderr."""
    code = 0
    try:
        main(["--json", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.strip()]
    assert len(lines) == 1, captured.out
    return code, json.loads(lines[0]), captured.err


def assert_reimport_changes_nothing(
    capsys: pytest.CaptureFixture[str], config: ConfigurationService, result_file: str, *, stored: int
) -> Database:
    """Importing the same results again stores nothing and leaves every row as it was."""
    database = Database(config.database_dir / "llm" / "database.db")
    before = snapshot(database)
    code, again, _ = run_cli(capsys, "annotate", "batch", "import", result_file, "-p", "llm")
    assert code == 0
    assert again["imports"][0]["annotated"] == 0 and again["imports"][0]["already_stored"] == stored
    assert snapshot(database) == before
    return database


def snapshot(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored result row, ids included, to prove a re-import wrote nothing."""
    tables = {
        "tags": Tag,
        "captions": Caption,
        "scores": Score,
        "failures": AnnotationFailure,
        "markers": ModelAnnotation,
    }
    with database.read_session() as session:
        return {
            name: [tuple(row) for row in session.execute(select(*table.__table__.columns).order_by(table.id))]
            for name, table in tables.items()
        }


def test_custom_ids_round_trip_and_request_lines(tmp_path: Path) -> None:
    request_id = batch_api.custom_id(42, "ABCDEF0123456789" + "0" * 48)
    assert batch_api.parse_custom_id(request_id) == (42, "abcdef0123456789")
    assert batch_api.parse_custom_id("someone-else-7") is None
    prompt = build_prompt(PromptOptions())
    images = ((batch_api.custom_id(i, f"{i:064x}"), encode_image(flat_image(i))) for i in range(3))
    path = tmp_path / "requests.jsonl"
    assert batch_api.write_requests(path, images, model="gpt-x", prompt=prompt) == 3
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [batch_api.custom_id(i, f"{i:064x}") for i in range(3)]
    assert all(line["url"] == "/v1/chat/completions" and line["body"]["model"] == "gpt-x" for line in lines)


def test_result_lines_of_every_kind(tmp_path: Path) -> None:
    ok = {
        "choices": [
            {"message": {"content": '{"tags": ["a"], "caption": "b", "score": 4}'}, "finish_reason": "stop"}
        ]
    }
    refused = {"choices": [{"message": {"content": None, "refusal": "no"}, "finish_reason": "stop"}]}
    bad = {"choices": [{"message": {"content": "not json"}, "finish_reason": "stop"}]}
    lines = [
        {"custom_id": "img-1-0000000000000000", "response": {"status_code": 200, "body": ok}},
        {"custom_id": "img-2-0000000000000000", "response": {"status_code": 200, "body": refused}},
        {"custom_id": "img-3-0000000000000000", "response": {"status_code": 200, "body": bad}},
        {
            "custom_id": "img-4-0000000000000000",
            "response": {"status_code": 500, "body": {"error": {"message": "x"}}},
        },
        {
            "custom_id": "img-5-0000000000000000",
            "response": None,
            "error": {"code": "expired", "message": "late"},
        },
    ]
    path = tmp_path / "out.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot a json line\n")
    results = {r.custom_id: r.result for r in batch_api.read_results(path, "openai/x")}
    assert len(results) == 5
    first = results["img-1-0000000000000000"]
    assert first.ok and [t.name for t in first.tags] == ["a"] and first.score == 4
    kinds = [results[f"img-{i}-0000000000000000"].failure.kind for i in range(2, 6)]  # type: ignore[union-attr]
    assert kinds == ["policy_violation", "malformed_output", "server_error", "server_error"]


def test_submit_status_import_and_reimport_through_the_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def script(request: FakeRequest) -> str:
        return "refusal" if request.colour == RED else "ok"

    with running(script, required_key=TEST_KEYS["openai"]) as server:  # type: ignore[arg-type]
        set_keys(monkeypatch)
        config = write_config(server)
        project, ids = project_with_images(config, 8)
        project.close()

        code, submitted, _ = run_cli(
            capsys, "annotate", "batch", "submit", "-m", "openai/gpt-test", "-p", "llm"
        )
        assert code == 0, submitted
        assert submitted["requests"] == 8 and submitted["job"]["status"] == "in_progress"
        uploaded = [json.loads(line) for line in server.files["file-1"].decode().splitlines()]
        assert len(uploaded) == 8 and len({line["custom_id"] for line in uploaded}) == 8

        code, status, _ = run_cli(capsys, "annotate", "batch", "status", "-p", "llm")
        (job,) = status["jobs"]
        assert code == 0 and job["status"] == "completed"
        result_file = Path(job["result_file"])
        assert result_file.parent == ConfigurationService().batch_results_dir and result_file.is_file()

        code, imported, _ = run_cli(capsys, "annotate", "batch", "import", "-p", "llm")
        (first,) = imported["imports"]
        assert code == 0 and first["annotated"] == 7 and first["policy_violations"] == 1
        assert first["input_tokens"] > 0

        database = assert_reimport_changes_nothing(capsys, config, str(result_file), stored=8)

        with database.read_session() as session:
            for i, image_id in enumerate(ids):
                tags = session.scalars(
                    select(Tag.tag).where(Tag.image_id == image_id).order_by(Tag.position)
                ).all()
                assert tags == ([] if colour(i) == RED else expected_answer(colour(i))["tags"])
            assert session.scalar(select(BatchJob.imported_at)) is not None

        # The refused image is left out of the next submission; nothing else is missing.
        code, nothing, _ = run_cli(
            capsys, "annotate", "batch", "submit", "-m", "openai/gpt-test", "-p", "llm"
        )
        assert code == 0 and nothing["requests"] == 0 and nothing["violations_skipped"] == 1
        database.close()

    key = TEST_KEYS["openai"].encode()
    for path in [*config.batch_results_dir.iterdir(), *(config.database_dir / "llm").glob("database.db*")]:
        assert key not in path.read_bytes()


def test_batch_refuses_models_without_a_batch_api_and_wrong_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(required_key="the-real-key") as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project_with_images(config, 2)[0].close()
        code, error, _ = run_cli(capsys, "annotate", "batch", "submit", "-m", "local/qwen-test", "-p", "llm")
        assert code == 2 and "OpenAI, Anthropic and Google" in error["error"]["message"]
        code, error, err = run_cli(
            capsys, "annotate", "batch", "submit", "-m", "openai/gpt-test", "-p", "llm"
        )
        assert code == 1 and error["error"]["type"] == "AuthenticationError"
        assert "authentication failed" in err and TEST_KEYS["openai"] not in err
        assert len(err.strip().splitlines()) == 1
