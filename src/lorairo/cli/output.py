"""How commands print: one JSON object on stdout with `--json`, Rich text otherwise.

Progress bars and logs always go to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

from lorairo.cli.app import CliState
from lorairo.services.progress import ProgressCallback

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True)


def emit(state: CliState, data: dict[str, Any], render: Callable[[], None] | None = None) -> None:
    """Print a command's result: the JSON object, or the human rendering of it."""
    if state.json:
        print(json.dumps(data, ensure_ascii=False, default=str))
    elif render is not None:
        render()
    else:
        for line in plain_lines(data):
            stdout.print(line, markup=False, highlight=False)


def plain_lines(value: Any, indent: int = 0) -> Iterator[str]:
    """A result as indented `key: value` lines: what a person reads where `--json` is for scripts."""
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item and not _flat_list(item):
                yield f"{pad}{key}:"
                yield from plain_lines(item, indent + 1)
            else:
                yield f"{pad}{key}: {_scalar(item)}"
    elif isinstance(value, list):
        for item in value:
            lines = list(plain_lines(item, indent + 1))
            if lines:
                yield f"{pad}- {lines[0].lstrip()}"
                yield from lines[1:]
    else:
        yield f"{pad}{_scalar(value)}"


def _flat_list(value: object) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _scalar(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == "":
        return '""'
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return "-"
    return str(value)


class _RateColumn(ProgressColumn):
    def __init__(self, unit: str, table_column: Column | None = None) -> None:
        super().__init__(table_column=table_column)
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            f"{speed:.1f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed"
        )


COMPACT_BELOW_COLUMNS = 100
MODEL_NAME_WIDTH = 40  # model names longer than this are shortened in the middle in tables


def progress_columns(description: str, unit: str, width: int) -> list[str | ProgressColumn]:
    """The full bar (bar, elapsed, message) from 100 columns up; below that only what must stay
    readable: count, rate and ETA, with the description shortened in the middle."""
    if width >= COMPACT_BELOW_COLUMNS:
        return [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(unit),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[message]}"),
        ]
    label = shorten_middle(description, max(8, width // 4))
    return [
        TextColumn(f"[bold]{label}", table_column=Column(no_wrap=True)),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        _RateColumn(unit, table_column=Column(no_wrap=True)),
        TimeRemainingColumn(table_column=Column(no_wrap=True)),
    ]


def shorten_middle(text: str, width: int) -> str:
    """`wd-swinv2-tagger-v3` -> `wd-swi…gger-v3`: the ends of a name tell models apart."""
    if len(text) <= width:
        return text
    keep = max(width - 1, 2)
    head = keep // 2
    return f"{text[:head]}…{text[len(text) - (keep - head) :]}"


@contextmanager
def progress_bar(
    description: str, unit: str = "images", console: Console | None = None
) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr (count, rate and ETA), exposed as a service `ProgressCallback`."""
    console = console or stderr
    progress = Progress(
        *progress_columns(description, unit, console.width),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
    task = progress.add_task(description, total=None, message="")
    last = 0.0

    def update(done: int, total: int | None, message: str = "") -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < 0.05 and (total is None or done < total):
            return
        last = now
        progress.update(task, completed=done, total=total, message=message)

    with progress:
        yield update
