"""The exception hierarchy every layer raises, so shells can map failures to exit codes."""

from __future__ import annotations

import unicodedata


class LoRAIroException(Exception):
    """Base exception for LoRAIro application."""

    exit_code = 1

    def details(self) -> dict[str, object]:
        """Machine-readable facts beside the message (the `--json` error object carries them)."""
        return {}

    def context_lines(self) -> list[str]:
        """Lines a shell prints under the message for a person (such as a caret under a column)."""
        return []


class ValidationError(LoRAIroException):
    """Bad user input: a malformed query, an unknown option value, a missing path."""

    exit_code = 2


class QuerySyntaxError(ValidationError):
    """A search query that does not parse; `column` (1-based) is where the problem starts and
    `query` the text (set by the parser), so a shell can point at it."""

    def __init__(self, reason: str, column: int, query: str | None = None) -> None:
        super().__init__(f"at column {column}: {reason}")
        self.reason = reason
        self.column = column
        self.query = query

    def details(self) -> dict[str, object]:
        return {"column": self.column, "reason": self.reason, "query": self.query}

    def context_lines(self) -> list[str]:
        """The query and a caret under the column (wide characters count twice)."""
        if self.query is None:
            return []
        before = self.query[: self.column - 1]
        width = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in before)
        return [f"  {self.query}", "  " + " " * width + "^"]


class ConfigurationError(LoRAIroException):
    """Configuration-related errors (bad path, bad log level, unknown key)."""

    exit_code = 2


class ProjectNotFoundError(ValidationError):
    """The named project does not exist under the database directory."""


class DatabaseError(LoRAIroException):
    """Database operation errors."""


class ImageProcessingError(LoRAIroException):
    """Image processing errors."""


class AIProviderError(LoRAIroException):
    """AI provider communication errors."""


class RateLimitError(AIProviderError):
    """API rate limit exceeded."""


class AuthenticationError(AIProviderError):
    """API authentication failed."""


class OperationCancelled(LoRAIroException):
    """A long operation stopped because its cancel token was set."""


class ModelNotAvailableError(AIProviderError):
    """The provider answered 404 / model-not-found: the model id is wrong or retired."""

    exit_code = 2
