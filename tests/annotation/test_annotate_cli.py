"""The `annotate` and `models` commands through the real entry point, JSON on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorairo.cli.main import main
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project
from tests.annotation.helpers import RED, add_solid_image


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    main(["--json", *args])
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_annotate_run_then_failures_and_rethreshold(
    capsys: pytest.CaptureFixture[str], project: Project, colour_model: Path
) -> None:
    add_solid_image(project, "red.png", RED, size=(16, 16))
    broken = add_solid_image(project, "broken.png", RED, size=(20, 20))
    (project.images_dir / "broken.png").write_bytes(b"not an image")

    report = run_cli(capsys, "annotate", "run", "-m", "colour-tagger", "-p", "t", "--batch-size", "4")
    assert (report["images_annotated"], report["failures"], report["selection"]) == (1, 1, "missing")
    assert report["per_model"][0]["execution_provider"] == "CPUExecutionProvider"  # type: ignore[index]

    failures = run_cli(capsys, "annotate", "failures", "-p", "t")
    assert failures["total"] == 1
    assert failures["failures"][0]["image_id"] == broken  # type: ignore[index]

    again = run_cli(capsys, "annotate", "run", "-m", "colour-tagger", "-p", "t")
    assert again["images_selected"] == 1  # only the broken one is still missing

    changed = run_cli(
        capsys, "annotate", "rethreshold", "-m", "colour-tagger", "-p", "t", "--character", "0.95"
    )
    assert changed["changed"] == {"character": 1}


def test_annotate_models_lists_config_and_builtin_models(
    capsys: pytest.CaptureFixture[str], colour_model: Path
) -> None:
    models = {m["name"]: m for m in run_cli(capsys, "annotate", "models")["models"]}  # type: ignore[attr-defined]
    assert models["colour-tagger"]["installed"] is True
    assert models["colour-tagger"]["size_bytes"] > 0
    assert models["wd-vit-tagger-v3"]["installed"] is False
    assert models["wd-vit-tagger-v3"]["kind"] == "tagger" and models["wd-vit-tagger-v3"]["is_api"] is False


def test_models_install_local_folder_and_offline_repo(
    capsys: pytest.CaptureFixture[str], colour_model: Path
) -> None:
    installed = run_cli(capsys, "models", "install", "colour-tagger")
    assert installed["models"][0]["installed"] is True  # type: ignore[index]
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", "models", "install", "wd-vit-tagger-v3"])  # offline in tests, not cached
    assert exit_info.value.code == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "AiAnnotatorError" and "not in the local cache" in error["message"]


@pytest.mark.parametrize(
    "args",
    [
        ["annotate", "run", "-m", "colour-tagger", "--all", "--ids", "1"],
        ["annotate", "run", "-m", "colour-tagger", "--ids", "5-2"],
        ["annotate", "run", "-m", "no-such-model"],
        ["annotate", "rethreshold", "-m", "colour-tagger"],
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], project: Project, colour_model: Path, args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", *args])
    assert exit_info.value.code == 2
    assert "error" in json.loads(capsys.readouterr().out)


def test_ids_accept_lists_and_ranges(
    capsys: pytest.CaptureFixture[str], project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    ids = [add_solid_image(project, f"{i}.png", RED, size=(10 + i, 10)) for i in range(5)]
    report = run_cli(
        capsys, "annotate", "run", "-m", "colour-tagger", "-p", "t", "--ids", f"{ids[0]},{ids[2]}-{ids[3]}"
    )
    assert (report["images_selected"], report["images_annotated"]) == (3, 3)
