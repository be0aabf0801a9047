"""The paged grid model over a real project: pages arrive from worker reads and stay bounded."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from lorairo.gui.main_window import MainWindow
from lorairo.gui.models import thumbnail_model
from tests.gui.conftest import IMAGES


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 2 rows and at most 2 kept, so ten images need eviction (the real sizes need 12k+ rows)."""
    monkeypatch.setattr(thumbnail_model, "PAGE_SIZE", 2)
    monkeypatch.setattr(thumbnail_model, "MAX_PAGES", 2)


def _load_row(qtbot: QtBot, window: MainWindow, row: int) -> int:
    model = window.model
    qtbot.waitUntil(lambda: model.item(row) is not None, timeout=15_000)
    item = model.item(row)
    assert item is not None
    return item.id


@pytest.mark.usefixtures("small_pages")
def test_grid_keeps_a_bounded_number_of_pages(qtbot: QtBot, window: MainWindow) -> None:
    model = window.model
    ids = [_load_row(qtbot, window, row) for row in range(IMAGES)]
    assert len(set(ids)) == IMAGES  # every row came from its own page read
    assert len(model._pages) <= 2
    assert set(model._pages) >= {(IMAGES - 1) // 2}  # the farthest pages went, the latest stayed
    assert model.loaded_items()[-1].id == ids[-1]
    # An evicted page is read again on demand, with the same rows.
    assert 0 not in model._pages
    assert _load_row(qtbot, window, 0) == ids[0]
    assert len(model._pages) <= 2
    assert window.view.indexWidget(model.index(0)) is None  # painted, not one widget per image
