"""The one shape of a recorded failure row: why it failed, in whose words, and when.

Registration rejections and annotation failures add what failed (a file; an image and a model) on
top; both print `failed_at` the same way in `--json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class FailureRow:
    reason: str
    message: str | None
    failed_at: datetime

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["failed_at"] = self.failed_at.isoformat(timespec="seconds")
        return data


@dataclass(frozen=True, kw_only=True)
class RegistrationFailureRow(FailureRow):
    """A file registration rejected."""

    file_path: str


@dataclass(frozen=True, kw_only=True)
class AnnotationFailureRow(FailureRow):
    """An image a model could not annotate."""

    id: int
    image_id: int
    image_name: str
    model_name: str
    provider: str
    is_policy_violation: bool
