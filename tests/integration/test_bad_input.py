"""Every bad input through the real CLI, in a subprocess: exit 2, one line naming the problem,
exactly one JSON error object with `--json`, and not one byte changed in the project, the tag
database or the config.

Each case starts from the same state: a config file, a tag database built from a 200-tag
tagcomplete CSV, and a project with two images. The snapshot covers every file under the
LoRAIro home except the log (which records the failure) and SQLite's -wal/-shm side files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image as PILImage

from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from lorairo.services.tag_service import TagService
from tests.annotation.helpers import BLUE, RED, add_solid_image

GOOD_TAGS = 200


@dataclass
class Home:
    root: Path
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Home], list[str]]
    problem: str  # a fragment the one error line must contain
    env: Callable[[Home], dict[str, str]] = lambda _home: {}


def _write(home: Home, name: str, data: bytes) -> str:
    path = home.tmp / name
    path.write_bytes(data)
    return str(path)


def _csv(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def _png(home: Home) -> str:
    path = home.tmp / "picture.png"
    PILImage.new("RGB", (32, 32), (10, 200, 30)).save(path)
    return str(path)


def _a_file(home: Home) -> str:
    path = home.tmp / "passwd"
    path.write_text("root:x:0:0::/root:/bin/sh\n")
    return str(path)


CASES = [
    # Tag database imports: refused before anything is replaced.
    Case(
        "three-line-malformed-csv",
        lambda h: [
            "tags",
            "db",
            "import",
            "--format",
            "tagcomplete",
            _write(h, "bad.csv", _csv(["1girl,0,100,", "solo,x,y,", "long_hair,0,50,"])),
        ],
        "malformed",
    ),
    Case("png-as-csv", lambda h: ["tags", "db", "import", "--format", "tagcomplete", _png(h)], "binary file"),
    Case(
        "latin1-csv",
        lambda h: ["tags", "db", "import", _write(h, "latin1.csv", "café,0,10,\n".encode("latin-1") * 300)],
        "not UTF-8",
    ),
    Case("empty-csv", lambda h: ["tags", "db", "import", _write(h, "empty.csv", b"")], "holds no tags"),
    Case(
        "under-half-the-tags",
        lambda h: ["tags", "db", "import", _write(h, "small.csv", _csv([f"t{i},0,{i}," for i in range(90)]))],
        "under half",
    ),
    Case("missing-file", lambda h: ["tags", "db", "import", str(h.tmp / "nope.csv")], "no such file"),
    Case(
        "csv-as-sqlite",
        lambda h: [
            "tags",
            "db",
            "import",
            "--format",
            "sqlite",
            _write(h, "x.csv", _csv(["1girl,0,1,"] * 5)),
        ],
        "not a readable SQLite file",
    ),
    # Queries.
    Case(
        "400-nested-parentheses",
        lambda h: ["images", "search", "(" * 400 + "tag:red" + ")" * 400, "-p", "t"],
        "column 101",
    ),
    Case(
        "400-negations", lambda h: ["images", "search", "-p", "t", "--", "-" * 400 + "tag:red"], "column 101"
    ),
    Case(
        "unclosed-bracket",
        lambda h: ["images", "search", "score[nonexist:>=5", "-p", "t"],
        "column 6: unclosed '['",
    ),
    Case(
        "unclosed-quote",
        lambda h: ["images", "search", 'caption:"red dress', "-p", "t"],
        "unterminated quote",
    ),
    Case(
        "unclosed-paren",
        lambda h: ["images", "search", "(tag:red OR tag:blue", "-p", "t"],
        "unclosed parenthesis",
    ),
    Case("bare-dash", lambda h: ["images", "search", "-", "-p", "t"], "'-' needs a search term"),
    Case("bare-not", lambda h: ["images", "search", "NOT", "-p", "t"], "expected a search term"),
    Case("bare-or", lambda h: ["images", "search", "OR", "-p", "t"], "OR needs a search term"),
    Case(
        "bulk-edit-bad-query",
        lambda h: ["tags", "add", "x", "(tag:red", "--apply", "-p", "t"],
        "unclosed parenthesis",
    ),
    # Projects and folders.
    Case(
        "data-dir-is-a-file-list",
        lambda h: ["project", "list"],
        "LORAIRO_DATABASE_DIR (directories.database_dir)",
        env=lambda h: {"LORAIRO_DATABASE_DIR": _a_file(h)},
    ),
    Case(
        "data-dir-is-a-file-register",
        lambda h: ["images", "register", str(h.tmp), "-p", "brandnew"],
        "is a file, not a directory",
        env=lambda h: {"LORAIRO_DATABASE_DIR": _a_file(h)},
    ),
    Case("unknown-project", lambda h: ["project", "info", "nosuch"], "no project named 'nosuch'"),
    Case("bad-project-name", lambda h: ["project", "create", "../escape"], "invalid project name"),
    # Config.
    Case("unknown-config-key", lambda h: ["config", "set", "log.nosuch", "1"], "unknown key"),
    Case(
        "export-dir-is-a-file", lambda h: ["config", "set", "directories.export_dir", _a_file(h)], "is a file"
    ),
    Case(
        "bad-log-level",
        lambda h: ["config", "show"],
        "LORAIRO_LOG_LEVEL",
        env=lambda h: {"LORAIRO_LOG_LEVEL": "loud"},
    ),
]


@pytest.fixture
def home(tmp_path: Path, isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """Config, a 200-tag database and a two-image project, all under the isolated home."""
    monkeypatch.setenv("LORAIRO_HOME", str(isolated_environment))
    config = ConfigurationService()
    source = tmp_path / "good.csv"
    source.write_bytes(_csv([f'tag_{i},0,{1000 - i},"alias_{i}"' for i in range(GOOD_TAGS)]))
    tags = TagService(config)
    tags.import_file(source)
    tags.close()
    project = ProjectService(config).create("t")
    add_solid_image(project, "red.png", RED)
    add_solid_image(project, "blue.png", BLUE)
    project.close()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    env = {**os.environ, "COLUMNS": "80"}
    return Home(isolated_environment, inputs, env)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "logs" not in path.parts and not path.name.endswith(("-wal", "-shm"))
    }


def run_cli(
    home: Home, args: list[str], env: dict[str, str], *, as_json: bool
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "lorairo", *(["--json"] if as_json else []), *args]
    return subprocess.run(command, env={**home.env, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(home: Home, case: Case) -> None:
    args, env = case.args(home), case.env(home)
    before = snapshot(home.root)
    assert any(name.endswith("base.sqlite") for name in before) and any(
        name.endswith("database.db") for name in before
    )

    human = run_cli(home, args, env, as_json=False)
    assert human.returncode == 2, human.stderr
    lines = [line for line in human.stderr.splitlines() if line.strip()]
    # one error line; a query's error adds the query and a caret under its column, indented
    assert lines[0].startswith("Error: ") and len(lines) in (1, 3), human.stderr
    assert all(line.startswith("  ") for line in lines[1:]) and (len(lines) == 1 or lines[2].strip() == "^")
    assert case.problem in lines[0]
    assert "Traceback" not in human.stderr and human.stdout == ""

    machine = run_cli(home, args, env, as_json=True)
    assert machine.returncode == 2
    objects = [line for line in machine.stdout.splitlines() if line.strip()]
    assert len(objects) == 1, machine.stdout
    error = json.loads(objects[0])
    assert list(error) == ["error"] and case.problem in error["error"]["message"]

    after = snapshot(home.root)
    assert after.keys() == before.keys(), sorted(set(after) ^ set(before))
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, changed


@pytest.mark.slow
def test_tags_db_restore_still_works_after_a_refusal(home: Home) -> None:
    small = _write(home, "second.csv", _csv([f"other_{i},0,{i}," for i in range(GOOD_TAGS)]))
    assert run_cli(home, ["tags", "db", "import", small], {}, as_json=True).returncode == 0
    refused = run_cli(home, ["tags", "db", "import", _png(home)], {}, as_json=True)
    assert refused.returncode == 2
    restored = run_cli(home, ["tags", "db", "restore"], {}, as_json=True)
    assert json.loads(restored.stdout)["metadata"]["source"].endswith("good.csv")
    forced = run_cli(
        home,
        ["tags", "db", "import", "--force", _write(home, "tiny.csv", _csv(["a,0,1,", "b,0,2,"]))],
        {},
        as_json=True,
    )
    assert json.loads(forced.stdout)["tags"] == 2


@pytest.mark.slow
def test_a_refused_first_import_leaves_no_tag_database_behind(home: Home) -> None:
    fresh = home.tmp / "tag-db-never-imported"
    env = {"LORAIRO_CONFIG_PATH": str(home.tmp / "other.toml")}
    (home.tmp / "other.toml").write_text(f'[tags]\ndb_dir = "{fresh.as_posix()}"\n')
    result = run_cli(home, ["tags", "db", "import", _png(home)], env, as_json=True)
    assert result.returncode == 2 and "binary file" in json.loads(result.stdout)["error"]["message"]
    assert not fresh.exists()


@pytest.mark.slow
def test_import_killed_mid_build_leaves_the_previous_database_active(home: Home) -> None:
    big = home.tmp / "big.csv"
    big.write_bytes(_csv([f'big_tag_{i},0,{i},"big_alias_{i}"' for i in range(300_000)]))
    tag_db = home.root / "tag_db"
    before = (tag_db / "base.sqlite").read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-m", "lorairo", "tags", "db", "import", str(big)],
        env=home.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (tag_db / "base.sqlite.building").exists():
        assert child.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert (tag_db / "base.sqlite").read_bytes() == before
    info = json.loads(run_cli(home, ["tags", "db", "info"], {}, as_json=True).stdout)
    assert info["counts"]["tags"] == GOOD_TAGS * 2  # tags + alias keys of the good file
    again = run_cli(
        home,
        ["tags", "db", "import", _write(home, "ok.csv", _csv([f"n{i},0,{i}," for i in range(300)]))],
        {},
        as_json=True,
    )
    assert again.returncode == 0 and not (tag_db / "base.sqlite.building").exists()
