"""Helpers for registration tests: an open project and its service, row queries for assertions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lorairo.database.schema import Image
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project
from lorairo.services.registration_service import RegistrationService


@pytest.fixture
def service(project: Project, config: ConfigurationService) -> RegistrationService:
    return RegistrationService(project, config)


def images_by_name(project: Project) -> dict[str, Image]:
    with project.database.read_session() as session:
        return {row.name: row for row in session.scalars(select(Image))}
