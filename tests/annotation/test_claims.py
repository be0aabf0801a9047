"""Claims: a run leaves images another live run holds, and takes them once that run's lease lapses."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from lorairo.database.annotation_repository import AnnotationRepository
from lorairo.database.claim_repository import ClaimRepository
from lorairo.database.schema import AnnotationClaim
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project
from tests.annotation.helpers import BLUE, RED, add_solid_image


def _live_claims(project: Project, model_id: int, now: float | None = None) -> dict[int, str]:
    """Image id -> owner of every unexpired claim for the model, read from the table itself."""
    now = time.time() if now is None else now
    with project.database.read_session() as session:
        rows = session.execute(
            select(AnnotationClaim.image_id, AnnotationClaim.owner).where(
                AnnotationClaim.model_id == model_id, AnnotationClaim.expires_at > now
            )
        )
        return {image_id: owner for image_id, owner in rows}


def test_claims_are_exclusive_until_the_lease_lapses(project: Project) -> None:
    ids = [add_solid_image(project, f"{i}.png", RED) for i in range(4)]
    model_key = AnnotationRepository(project.database).ensure_model("m", provider="local", kind="tagger")
    first = ClaimRepository(project.database, "first", lease_seconds=60)
    second = ClaimRepository(project.database, "second", lease_seconds=60)
    now = time.time()
    assert first.claim(model_key, ids[:3], skip_done=True, now=now) == ids[:3]
    assert second.claim(model_key, ids, skip_done=True, now=now + 1) == ids[3:]
    assert first.claim(model_key, ids[3:], skip_done=True, now=now + 30) == []  # renews its own only
    # 60 s after its last claim the first run counts as dead: its images are free again.
    assert second.claim(model_key, ids, skip_done=True, now=now + 91) == ids  # its own plus the lapsed
    assert set(_live_claims(project, model_key, now + 91).values()) == {"second"}
    second.release()
    assert _live_claims(project, model_key, now + 91) == {}


def test_a_run_skips_images_another_run_holds_and_releases_its_own(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    ids = [add_solid_image(project, f"{i}.png", RED if i % 2 else BLUE) for i in range(6)]
    service = AnnotationService(project, config)
    model_id = service.repository.ensure_model("colour-tagger", provider="local", kind="tagger")
    crashed = ClaimRepository(project.database, "killed-run", lease_seconds=60)
    crashed.claim(model_id, ids[:2], skip_done=True)

    report = service.run(["colour-tagger"], batch_size=2)
    assert (report.images_annotated, report.claimed_by_other_runs) == (4, 2)
    assert set(_live_claims(project, model_id)) == set(ids[:2])  # only the other run's remain

    # Once the killed run's lease has lapsed, the next run annotates what it held.
    expired = ClaimRepository(project.database, "killed-run", lease_seconds=-1)
    expired.claim(model_id, ids[:2], skip_done=True)  # renews its leases into the past
    again = AnnotationService(project, config).run(["colour-tagger"], batch_size=2)
    assert (again.images_annotated, again.claimed_by_other_runs) == (2, 0)
