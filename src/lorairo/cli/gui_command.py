"""`lorairo gui`: open the desktop window (Qt is imported only when the command runs)."""

from __future__ import annotations

import typer

from lorairo.cli.app import ProjectOption, app, state
from lorairo.errors import LoRAIroException


@app.command("gui")
def gui(ctx: typer.Context, project: ProjectOption = None) -> None:
    """Open the desktop window (the project given, else the last one opened)."""
    from lorairo.gui import display_available

    if not display_available():
        raise LoRAIroException("no display available (set DISPLAY, or QT_QPA_PLATFORM=offscreen)")
    from lorairo.gui.app import run_gui

    raise typer.Exit(run_gui(state(ctx).config, project))
