"""Fixtures for export tests: isolated config, a fresh project and the demo data set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from tests.export.builders import Builder, Demo, make_demo


@pytest.fixture
def builder(config: ConfigurationService) -> Iterator[Builder]:
    project = ProjectService(config).create("demo")
    try:
        yield Builder(project)
    finally:
        project.close()


@pytest.fixture
def demo(builder: Builder) -> Demo:
    return make_demo(builder)
