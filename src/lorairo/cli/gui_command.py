"""`lorairo gui`: reserved for the desktop window."""

from __future__ import annotations

import typer

from lorairo.cli.app import app
from lorairo.errors import LoRAIroException


@app.command("gui")
def gui(ctx: typer.Context) -> None:
    """Open the desktop window."""
    raise LoRAIroException("the GUI is not available yet; use the CLI commands (lorairo --help)")
