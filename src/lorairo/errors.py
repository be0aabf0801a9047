"""The exception hierarchy every layer raises, so shells can map failures to exit codes."""

from __future__ import annotations


class LoRAIroException(Exception):
    """Base exception for LoRAIro application."""

    exit_code = 1


class ValidationError(LoRAIroException):
    """Bad user input: a malformed query, an unknown option value, a missing path."""

    exit_code = 2


class QuerySyntaxError(ValidationError):
    """A search query that does not parse; `column` (1-based) is where the problem starts."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"at column {column}: {reason}")
        self.reason = reason
        self.column = column


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
