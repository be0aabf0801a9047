"""Entry point: runs the Typer app and maps every failure to an exit code and one clear line.

Exit codes: 0 success, 2 bad input or validation, 1 anything else. Tracebacks only with --debug.
"""

from __future__ import annotations

import json
import sys

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from lorairo.cli import (
    annotate_batch_commands,
    annotate_commands,
    config_commands,
    edit_commands,
    export_commands,
    gui_command,
    project_commands,
    providers_commands,
    register_commands,
    search_commands,
    similarity_commands,
    tag_db_commands,
    worker_commands,
)
from lorairo.cli.app import app
from lorairo.errors import LoRAIroException
from lorairo.gui import desktop_session
from lorairo.utils.masking import redact

# Every command module, listed once (as beets' `default_commands`); importing one attaches its
# commands to a group defined in `lorairo.cli.app`. A new module is added here, not discovered.
COMMAND_MODULES = (
    project_commands,
    config_commands,
    register_commands,
    search_commands,
    similarity_commands,
    annotate_commands,
    annotate_batch_commands,
    providers_commands,
    tag_db_commands,
    edit_commands,
    export_commands,
    gui_command,
    worker_commands,
)


def build_command() -> TyperGroup:
    """The click command tree, with help that shows plain option names.

    Typer labels every value with its Python type (`<bool>`, `<list[Path]>`); only an explicit
    `metavar=` (`-o DIR`) informs, so options without one show none and arguments show their name.
    """
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    _plain_metavars(command)
    return command


def _plain_metavars(command: TyperCommand | TyperGroup) -> None:
    for param in command.params:
        if param.metavar is None:
            param.metavar = (param.name or "").upper() if isinstance(param, TyperArgument) else ""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            if isinstance(sub, TyperCommand | TyperGroup):
                _plain_metavars(sub)


def _report(
    message: str,
    kind: str,
    *,
    as_json: bool,
    details: dict[str, object] | None = None,
    lines: list[str] | None = None,
) -> None:
    message = redact(message)
    if as_json:
        extra = {
            key: redact(value) if isinstance(value, str) else value for key, value in (details or {}).items()
        }
        error = {"type": kind, "message": message, **extra}
        print(json.dumps({"error": error}, ensure_ascii=False, default=str))
    print(f"Error: {message}", file=sys.stderr)
    for line in lines or []:
        print(redact(line), file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:  # bare `lorairo`: the window in a desktop session; elsewhere, help on stdout
        args = ["gui"] if desktop_session() else ["--help"]
    as_json = "--json" in args[: args.index("--") if "--" in args else len(args)]
    debug = "--debug" in args
    command = build_command()
    try:
        code = command.main(args=args, prog_name="lorairo", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _report("aborted", "Abort", as_json=as_json)
        sys.exit(1)
    except typer.TyperException as exc:  # usage errors: unknown command, bad option value
        show = getattr(exc, "show", None)  # usage errors print the usage line with the message
        if as_json or not callable(show):
            _report(exc.format_message(), type(exc).__name__, as_json=as_json)
        else:
            show()
        sys.exit(exc.exit_code)
    except LoRAIroException as exc:
        if debug:
            raise
        _report(
            str(exc), type(exc).__name__, as_json=as_json, details=exc.details(), lines=exc.context_lines()
        )
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _report("interrupted", "KeyboardInterrupt", as_json=as_json)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        _report(
            f"{type(exc).__name__}: {exc} (run with --debug for the traceback)",
            type(exc).__name__,
            as_json=as_json,
        )
        sys.exit(1)
    if isinstance(code, int) and code:  # without standalone mode, `typer.Exit(code)` comes back here
        sys.exit(code)
