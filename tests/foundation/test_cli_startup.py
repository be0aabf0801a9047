"""The CLI starts without the heavy stacks: every `lorairo` call (help, completions, `project list`)
builds the whole command tree, so a module-level service import there costs each call seconds.

Commands import their services when they run; option choices and defaults come from
`lorairo.services.choices`. These tests fail as soon as a command module imports a heavy service
(or a light module grows a heavy import) at module level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# What each costs at import (this machine): the model runtime and provider SDKs ~1.5 s, SQLAlchemy
# ~0.4 s, scipy (image hashes) ~0.5 s, numpy/Pillow ~0.1-0.4 s, Qt, tomlkit and loguru less.
# Not listed: pydantic, which Typer 0.29 itself imports to coerce the first option value it parses.
HEAVY = (
    "onnxruntime",
    "openai",
    "anthropic",
    "google.genai",
    "httpx",
    "scipy",
    "numpy",
    "PIL",
    "sqlalchemy",
    "alembic",
    "PySide6",
    "huggingface_hub",
    "loguru",
    "tomlkit",
    "image_annotator_lib.core",
    "image_annotator_lib.api",
    "image_annotator_lib.registry",
    "genai_tag_db_tools.db",
    "lorairo.database.engine",
    "lorairo.annotations.ai_annotator",
    "lorairo.registration",
    "lorairo.gui.app",
)


def loaded_after(code: str) -> list[str]:
    """The heavy modules (or their submodules) in `sys.modules` after running `code` fresh."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') "
        "for h in heavy))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.splitlines()[-1]))


def lorairo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lorairo", *args],
        env={**os.environ, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_importing_the_cli_loads_no_heavy_stack() -> None:
    assert loaded_after("import lorairo.cli.main") == []


@pytest.mark.parametrize("args", [["--help"], ["images", "--help"], ["annotate", "run", "--help"]])
def test_help_builds_the_whole_tree_without_heavy_stacks(args: list[str]) -> None:
    """`main` builds every command's parameters (defaults, choices in help) before it parses."""
    code = (
        "import sys\nfrom lorairo.cli.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code"
    )
    assert loaded_after(code) == []


def run_main(args: list[str]) -> str:
    return f"from lorairo.cli.main import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass"


def test_a_command_still_loads_its_service_when_it_runs() -> None:
    """The probe can fail: a command that opens a project loads the store."""
    loaded = loaded_after(run_main(["--json", "project", "create", "demo"]))
    assert "sqlalchemy" in loaded
    assert "lorairo.database.engine" in loaded


def test_project_list_reads_folders_without_loading_the_store() -> None:
    loaded = loaded_after(run_main(["--json", "project", "list"]))
    assert "tomlkit" in loaded  # the settings were read
    assert not [m for m in loaded if m.startswith(("sqlalchemy", "lorairo.database.engine"))]


def test_help_still_lists_every_group_and_images_command() -> None:
    top = lorairo("--help")
    assert top.returncode == 0, top.stderr
    for group in ("project", "config", "images", "annotate", "models", "tags", "edits", "export", "gui"):
        assert f"  {group} " in top.stdout
    images = lorairo("images", "--help")
    assert images.returncode == 0, images.stderr
    for command in ("register", "search", "show", "duplicates", "similar", "crop", "remove"):
        assert f"  {command} " in images.stdout


def test_help_still_shows_choices_and_defaults_from_the_light_module() -> None:
    from lorairo.services.choices import DEFAULT_THRESHOLD, MAX_REQUESTS, SORTS, suggestions

    search = lorairo("images", "search", "--help").stdout
    assert all(sort in search for sort in SORTS)
    assert str(DEFAULT_THRESHOLD) in lorairo("images", "duplicates", "--help").stdout
    assert str(MAX_REQUESTS) in lorairo("annotate", "batch", "submit", "--help").stdout
    assert suggestions().split(",")[0].split()[0] in lorairo("providers", "add", "--help").stdout
