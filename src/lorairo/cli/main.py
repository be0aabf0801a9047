"""Entry point: runs the Typer app and maps every failure to an exit code and one clear line.

Exit codes: 0 success, 2 bad input or validation, 1 anything else. Tracebacks only with --debug.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import typer

import lorairo.cli
from lorairo.cli.app import app
from lorairo.errors import LoRAIroException
from lorairo.gui import desktop_session
from lorairo.utils.masking import redact


def _load_commands() -> None:
    """Import every `lorairo/cli/*_command(s).py`; each registers its commands on a group in `app`."""
    for module in pkgutil.iter_modules(lorairo.cli.__path__):
        if module.name.endswith(("_command", "_commands")):
            importlib.import_module(f"lorairo.cli.{module.name}")


def _report(message: str, kind: str, *, as_json: bool) -> None:
    message = redact(message)
    if as_json:
        print(json.dumps({"error": {"type": kind, "message": message}}, ensure_ascii=False))
    print(f"Error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args and desktop_session():
        args = ["gui"]  # bare `lorairo` in a desktop session opens the window; elsewhere, help
    as_json = "--json" in args[: args.index("--") if "--" in args else len(args)]
    debug = "--debug" in args
    _load_commands()
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="lorairo", standalone_mode=False)
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
        _report(str(exc), type(exc).__name__, as_json=as_json)
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
