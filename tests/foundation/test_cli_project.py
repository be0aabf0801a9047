"""The CLI shell: JSON output, exit codes, project lifecycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lorairo.database.engine import head_revision


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lorairo", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def test_project_create_prints_one_json_object_naming_both_paths(tmp_path: Path) -> None:
    done = run("--json", "project", "create", "demo", env={"LORAIRO_DATABASE_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["database_path"] == str(tmp_path / "demo" / "database.db")
    assert data["images_dir"] == str(tmp_path / "demo" / "images")
    assert (tmp_path / "demo" / "images").is_dir()
    info = json.loads(
        run("--json", "project", "info", "demo", env={"LORAIRO_DATABASE_DIR": str(tmp_path)}).stdout
    )
    assert info["revision"] == head_revision()
    assert info["counts"]["images"] == 0


def test_list_delete_needs_yes_and_moves_to_trash(tmp_path: Path) -> None:
    env = {"LORAIRO_DATABASE_DIR": str(tmp_path)}
    run("project", "create", "a", env=env)
    run("project", "create", "b", env=env)
    assert json.loads(run("--json", "project", "list", env=env).stdout)["projects"] == ["a", "b"]
    refused = run("--json", "project", "delete", "a", env=env)
    assert refused.returncode == 2
    assert "without --yes" in json.loads(refused.stdout)["error"]["message"]
    assert (tmp_path / "a" / "database.db").exists()
    moved = json.loads(run("--json", "project", "delete", "a", "--yes", env=env).stdout)["moved_to"]
    assert (Path(moved) / "database.db").exists()
    assert json.loads(run("--json", "project", "list", env=env).stdout)["projects"] == ["b"]


def test_errors_map_to_exit_codes_without_tracebacks() -> None:
    missing = run("--json", "project", "info", "nope")
    assert missing.returncode == 2
    assert json.loads(missing.stdout)["error"]["type"] == "ProjectNotFoundError"
    assert "Traceback" not in missing.stderr
    bad_name = run("project", "create", "../escape")
    assert bad_name.returncode == 2
    assert "invalid project name" in bad_name.stderr
    unknown = run("no-such-command")
    assert unknown.returncode == 2
    broken_config = run("--json", "project", "list", env={"LORAIRO_LOG_LEVEL": "LOUD"})
    assert broken_config.returncode == 2
    assert json.loads(broken_config.stdout)["error"]["type"] == "ConfigurationError"
