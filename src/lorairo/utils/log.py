"""The one place loguru is configured: a stderr sink, a rotating file sink, both masking secrets.

Masking happens in a patcher, before any sink formats the record, and tracebacks are folded into the
message first, so neither a message nor an exception text can carry a key to a sink. Standard
`logging` records (httpx, openai, alembic, ...) are routed through loguru so they are masked too.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from lorairo.utils.masking import redact

if TYPE_CHECKING:
    from loguru import Record

FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss} | {level: <8} | {name}:{function}:{line} | {message}"
STDERR_FORMAT = "<level>{level: <8}</level> | {message}"


def _mask_record(record: Record) -> None:
    message = record["message"]
    exception = record["exception"]
    if exception is not None and exception.type is not None:
        message += "\n" + "".join(
            traceback.format_exception(exception.type, exception.value, exception.traceback)
        )
        record["exception"] = None
    record["message"] = redact(message)


class _InterceptHandler(logging.Handler):
    """Forward standard-library log records to loguru (and so through the masking patcher)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info, depth=6).log(level, record.getMessage())


def setup_logging(
    *,
    level: str = "INFO",
    stderr_level: str = "WARNING",
    file_path: Path | None = None,
    rotation: str = "10 MB",
    retention: str = "1 month",
) -> None:
    """Replace all sinks. Safe to call again, e.g. after the user changes the log level."""
    logger.remove()
    logger.configure(patcher=_mask_record)
    sinks: list[dict[str, Any]] = [
        {
            "sink": sys.stderr,
            "level": stderr_level,
            "format": STDERR_FORMAT,
            "backtrace": False,
            "diagnose": False,
        }
    ]
    if file_path is not None:
        file_path.parent.mkdir(parents=True, exist_ok=True)
        sinks.append(
            {
                "sink": file_path,
                "level": level,
                "format": FILE_FORMAT,
                "rotation": rotation,
                "retention": retention,
                "encoding": "utf-8",
                "backtrace": False,
                "diagnose": False,
            }
        )
    for sink in sinks:
        logger.add(**sink)
    std_level = {"TRACE": 5, "SUCCESS": 25}.get(level, logging.getLevelName(level))
    logging.basicConfig(handlers=[_InterceptHandler()], level=std_level, force=True)
