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
        stdout.print_json(json.dumps(data, ensure_ascii=False, default=str))


class _RateColumn(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            f"{speed:.1f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed"
        )


@contextmanager
def progress_bar(description: str, unit: str = "images") -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr (rate and ETA), exposed as a service `ProgressCallback`."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[message]}"),
        console=stderr,
        transient=False,
        disable=not stderr.is_terminal,
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
