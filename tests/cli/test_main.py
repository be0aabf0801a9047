"""The command tree: every module registered explicitly, help that reads like a click program."""

from __future__ import annotations

import re

import pytest
from typer.core import TyperGroup

from lorairo.cli.main import build_command, main


def _paths(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in group.commands.items():
        if isinstance(sub, TyperGroup):
            found += _paths(sub, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_every_group_has_commands() -> None:
    tree = build_command()
    names = set(tree.commands)
    assert {"project", "config", "images", "annotate", "tags", "edits", "export", "gui"} <= names
    for name in names:
        sub = tree.commands[name]
        if isinstance(sub, TyperGroup):
            assert sub.commands, f"group {name} lost its commands"


@pytest.mark.parametrize("path", _paths(build_command()), ids=" ".join)
def test_help_shows_plain_option_names(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        main([*path, "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    options = out.split("Options:", 1)[1] if "Options:" in out else ""
    assert not re.search(r"<(bool|str|int|float|path|list\[\w+\])>", options), options
    assert "[directories]" in out or "--project" not in out  # help text is not eaten as markup
