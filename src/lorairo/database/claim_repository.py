"""Leases on (image, model) pairs so concurrent annotation runs share the work.

A run claims each page of its selection before decoding it: images another run holds under a
live lease are left to that run, and (for `missing` runs) images annotated meanwhile are dropped.
Every claim renews the run's other leases, so a run that keeps working keeps its images; one
killed outright stops renewing, and its images are free again once `lease_seconds` pass.
Times are wall-clock seconds (`time.time()`), comparable across processes.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update

from lorairo.database.dialect import upsert
from lorairo.database.engine import Database
from lorairo.database.schema import AnnotationClaim, ModelAnnotation

DEFAULT_LEASE_SECONDS = 300.0


def new_owner() -> str:
    """A claim owner unique to this run: host and pid for people, a random part for uniqueness."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClaimRepository:
    def __init__(
        self, database: Database, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> None:
        self.database = database
        self.owner = owner or new_owner()
        self.lease_seconds = lease_seconds

    def claim(
        self, model_id: int, image_ids: Sequence[int], *, skip_done: bool, now: float | None = None
    ) -> list[int]:
        """Claim the ids no other live run holds (and, with `skip_done`, not annotated yet); in one
        write transaction, so two runs never both get an image. Returns them in the given order."""
        now = time.time() if now is None else now
        expires = now + self.lease_seconds
        wanted = list(dict.fromkeys(image_ids))
        if not wanted:
            return []
        with self.database.write_session() as session:
            taken = set(
                session.scalars(
                    select(AnnotationClaim.image_id).where(
                        AnnotationClaim.model_id == model_id,
                        AnnotationClaim.image_id.in_(wanted),
                        AnnotationClaim.owner != self.owner,
                        AnnotationClaim.expires_at > now,
                    )
                )
            )
            if skip_done:
                taken.update(
                    session.scalars(
                        select(ModelAnnotation.image_id).where(
                            ModelAnnotation.model_id == model_id, ModelAnnotation.image_id.in_(wanted)
                        )
                    )
                )
            free = [image_id for image_id in wanted if image_id not in taken]
            session.execute(
                update(AnnotationClaim).where(AnnotationClaim.owner == self.owner).values(expires_at=expires)
            )
            if free:
                statement = upsert(session, AnnotationClaim).values(
                    [
                        {"image_id": i, "model_id": model_id, "owner": self.owner, "expires_at": expires}
                        for i in free
                    ]
                )
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["image_id", "model_id"],
                        set_={"owner": self.owner, "expires_at": expires},
                    )
                )
        return free

    def release(self) -> None:
        """Drop every claim of this run (it finished, failed or was cancelled)."""
        with self.database.write_session() as session:
            session.execute(delete(AnnotationClaim).where(AnnotationClaim.owner == self.owner))
