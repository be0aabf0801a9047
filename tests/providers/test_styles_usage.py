"""Caption styles (request bodies, stored name + hash), honest usage (thinking tokens, per run) and
`--dry-run`, against the fake server with the real SDKs and a real project database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from image_annotator_lib.core.types import AnnotationResult, TagPrediction
from image_annotator_lib.providers.styles import PRESETS
from lorairo.database.run_repository import RunRepository
from lorairo.database.schema import AnnotationRun, AnnotationStyle, Model, ModelAnnotation
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.project_service import Project, ProjectService
from tests.providers.app_setup import MODELS, project_with_images, set_keys, write_config
from tests.providers.fake_llm_server import USAGE_IN, USAGE_OUT, USAGE_THINKING, FakeRequest, running
from tests.providers.helpers import KINDS
from tests.providers.test_batch import run_cli

# Image 0 has tagger output (one tag rejected by the tagger's threshold); image 1 has none.
TAGGED = [
    TagPrediction("1girl", 0.9),
    TagPrediction("red dress", 0.8),
    TagPrediction("straw hat", 0.2, accepted=False),
]


def add_tagger_output(project: Project, image_id: int) -> None:
    repository = AnnotationStore(project.database)
    model_id = repository.ensure_model("wd-test", provider="local", kind="tagger")
    repository.save_results(
        model_id, "wd-test", "local", [(image_id, AnnotationResult("wd-test", tags=TAGGED))]
    )


def system_text(request: FakeRequest) -> str:
    """The instructions as each protocol carries them."""
    if request.protocol == "openai":
        return str(request.body["messages"][0]["content"])
    if request.protocol == "anthropic":
        return str(request.body["system"])
    return " ".join(part["text"] for part in request.body["systemInstruction"]["parts"])


def schema_of(request: FakeRequest) -> dict:
    if request.protocol == "openai":
        return dict(request.body["response_format"]["json_schema"]["schema"])
    if request.protocol == "anthropic":
        return dict(request.body["tools"][0]["input_schema"])
    return dict(request.body["generationConfig"]["responseJsonSchema"])


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_sends_its_prompt_with_existing_tags_and_trigger(
    preset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    style = PRESETS[preset]
    with running() as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project, ids = project_with_images(config, 2)
        try:
            add_tagger_output(project, ids[0])
            report = AnnotationService(project, config).run(
                ["local/qwen-test"], style=style, trigger="ohwx woman"
            )
            assert report.images_annotated == 2 and report.style == f"{preset}@{style.hash}"
            with project.database.read_session() as session:
                stored = session.execute(
                    select(AnnotationStyle.image_id, AnnotationStyle.style_name, AnnotationStyle.style_hash)
                ).all()
            assert sorted(stored) == [(i, preset, style.hash) for i in ids]
            with project.database.read_session() as session:
                assert RunRepository.images_with_style(session, preset, style.hash) == ids
        finally:
            project.close()
    by_colour = sorted(server.annotation_requests(), key=lambda r: r.index)
    bodies = {"img000.png": None, "img001.png": None}
    for request in by_colour:
        text = system_text(request)
        assert "ohwx woman" in text
        assert set(schema_of(request)["properties"]) == set(style.fields)
        bodies["img000.png" if "red dress" in text else "img001.png"] = text
    tagged, untagged = bodies["img000.png"], bodies["img001.png"]
    assert tagged is not None and "1girl, red dress" in tagged and "straw hat" not in tagged
    tags_line = next(line for line in style.instructions.splitlines() if "{existing_tags}" in line)
    assert untagged is not None and "red dress" not in untagged and "{" not in untagged
    assert tags_line.split("{")[0] in tagged and tags_line.split("{")[0] not in untagged  # line left out
    assert style.instructions.splitlines()[0] in untagged


@pytest.mark.parametrize("kind", KINDS)
def test_style_request_body_per_protocol(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    style = PRESETS["booru-tags"]
    with running() as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project, ids = project_with_images(config, 1)
        try:
            add_tagger_output(project, ids[0])
            report = AnnotationService(project, config).run([MODELS[kind]], style=style)
        finally:
            project.close()
    request = server.annotation_requests()[0]
    assert report.images_annotated == 1
    assert "1girl, red dress" in system_text(request)
    assert schema_of(request)["properties"]["rating"]["enum"] == [
        "general",
        "sensitive",
        "questionable",
        "explicit",
    ]


def test_custom_style_file_and_bad_style_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = tmp_path / "mine.toml"
    custom.write_text(
        'name = "mine"\ninstructions = """Describe {file_stem} for {trigger}."""\nfields = ["caption"]\n',
        encoding="utf-8",
    )
    with running() as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project_with_images(config, 1)[0].close()
        code, done, _ = run_cli(
            capsys,
            "annotate",
            "run",
            "-m",
            "local/qwen-test",
            "-p",
            "llm",
            "--style",
            f"custom:{custom}",
            "--trigger",
            "zz",
        )
        assert code == 0 and done["images_annotated"] == 1 and done["style"].startswith("mine@")
        assert "Describe img000 for zz." in system_text(server.annotation_requests()[0])
        for bad in ("no-such-style", f"custom:{tmp_path / 'missing.toml'}"):
            code, error, _ = run_cli(
                capsys, "annotate", "run", "-m", "local/qwen-test", "-p", "llm", "--style", bad
            )
            assert code == 2 and "error" in error
        custom.write_text('name = "x"\ninstructions = "y"\nfields = ["colour"]\n', encoding="utf-8")
        code, error, _ = run_cli(
            capsys, "annotate", "run", "-m", "local/qwen-test", "-p", "llm", "--style", str(custom)
        )
        assert code == 2
    assert len(server.annotation_requests()) == 1


@pytest.mark.parametrize("kind", ["google", "openai"])
def test_thinking_tokens_are_counted_in_the_summary_and_stored_per_run(
    kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running() as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project_with_images(config, 3)[0].close()
        code, report, _ = run_cli(capsys, "annotate", "run", "-m", MODELS[kind], "-p", "llm")
        code_runs, runs, _ = run_cli(capsys, "annotate", "runs", "-p", "llm")
    assert code == 0 and code_runs == 0
    assert report["input_tokens"] == 3 * USAGE_IN
    assert report["output_tokens"] == 3 * USAGE_OUT  # Gemini's thoughts added to its candidates
    assert report["thinking_tokens"] == 3 * USAGE_THINKING
    usage = runs["runs"][0]["usage"]
    assert runs["runs"][0]["model_name"] == MODELS[kind] and runs["runs"][0]["finished_at"]
    assert (usage["requests"], usage["thinking_tokens"], usage["images_annotated"]) == (
        3,
        3 * USAGE_THINKING,
        3,
    )


def test_dry_run_sends_nothing_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running() as server:
        set_keys(monkeypatch)
        config = write_config(server)
        project, ids = project_with_images(config, 5)
        add_tagger_output(project, ids[0])
        with project.database.read_session() as session:
            before = [
                session.scalar(select(func.count()).select_from(t))
                for t in (Model, ModelAnnotation, AnnotationRun)
            ]
        project.close()
        code, plan, _ = run_cli(
            capsys,
            "annotate",
            "run",
            "-m",
            "anthropic/claude-test",
            "-m",
            "openai/gpt-test",
            "-p",
            "llm",
            "--dry-run",
            "--style",
            "detailed-caption",
        )
        assert server.raw == []
    assert code == 0 and plan["dry_run"] is True
    assert [m["images"] for m in plan["models"]] == [5, 5] and plan["requests"] == 10
    per_model = [m["estimated_input_tokens"] for m in plan["models"]]
    # 96x64 images: Anthropic ~9 tokens each, OpenAI's 255 per image; the prompt adds a few hundred
    assert 5 * 100 < per_model[0] < per_model[1] < 5 * 1500
    again = ProjectService(config).open("llm")
    try:
        with again.database.read_session() as session:
            after = [
                session.scalar(select(func.count()).select_from(t))
                for t in (Model, ModelAnnotation, AnnotationRun)
            ]
    finally:
        again.close()
    assert after == before
