"""Quality badges in the grid: from measures stored at registration to circles the delegate paints,
offscreen, with a real project, real search service and real Qt painting."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageFilter
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QStyleOptionViewItem, QWidget
from pytestqt.qtbot import QtBot

from lorairo.gui.models.thumbnail_model import PAINT_ROLE, GridItem, SearchGridSource
from lorairo.gui.widgets.thumbnail_delegate import QUALITY_BADGES, ThumbnailDelegate
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project
from lorairo.services.registration_service import RegistrationService
from lorairo.services.search_service import SearchService
from tests.registration.test_quality import boxed, scaled, scene

EDGE = 120


def test_grid_items_carry_the_quality_flags_of_the_stored_measures(
    tmp_path: Path, project: Project, config: ConfigurationService
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    scene((1400, 1000), 1).save(folder / "sharp.png")
    scene((1400, 1000), 2).filter(ImageFilter.GaussianBlur(20)).save(folder / "blurred.png")
    scaled(scene((1400, 1000), 3), 0.25, 0).save(folder / "dark.png")
    boxed(scene((1400, 600), 4), (1400, 1050), (0, 0, 0)).save(folder / "letterbox.png")
    scene((400, 300), 5).save(folder / "small.png")
    RegistrationService(project, config).register([folder])
    source = SearchGridSource(SearchService(project), resolution=1024)
    items, total, _order = source.first_page("", "id", 50)
    assert total == 5
    flags = {
        item.name: {name for name in ("blurry", "dark", "letterbox", "small") if getattr(item, name)}
        for item in items
    }
    assert flags == {
        "sharp.png": set(),
        "blurred.png": {"blurry"},
        "dark.png": {"dark"},
        "letterbox.png": {"letterbox"},
        "small.png": {"small"},
    }
    assert "blurry" in next(item for item in items if item.name == "blurred.png").tooltip


def _item(**flags: bool) -> GridItem:
    return GridItem(
        id=1,
        name="a.png",
        width=800,
        height=600,
        tags=(),
        caption=None,
        score=None,
        rating=None,
        reviewed=False,
        thumbnail=None,
        original=Path("a.png"),
        source=Path("a.png"),
        near_duplicate=False,
        failed=False,
        rejected_only=False,
        **flags,
    )


def _paint(qtbot: QtBot, item: GridItem) -> QImage:
    host = QWidget()
    qtbot.addWidget(host)
    model = QStandardItemModel()
    cell = QStandardItem()
    cell.setData((item, None), PAINT_ROLE)
    model.appendRow(cell)
    delegate = ThumbnailDelegate(host, EDGE)
    canvas = QImage(EDGE + 12, EDGE + 30, QImage.Format.Format_ARGB32)
    canvas.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.initFrom(host)
    option.rect = QRect(0, 0, canvas.width(), canvas.height())
    painter = QPainter(canvas)
    delegate.paint(painter, option, model.index(0, 0))
    painter.end()
    return canvas


def _close(a: QColor, b: QColor) -> bool:
    return max(abs(a.red() - b.red()), abs(a.green() - b.green()), abs(a.blue() - b.blue())) < 25


def test_the_delegate_paints_one_badge_per_quality_flag_along_the_bottom(qtbot: QtBot) -> None:
    plain = _paint(qtbot, _item())
    every = _paint(qtbot, _item(blurry=True, dark=True, letterbox=True, small=True))
    square_right, square_bottom = 6 + EDGE - 1, 6 + EDGE - 1
    for slot, (_attribute, _letter, colour, _meaning) in enumerate(QUALITY_BADGES):
        # The left part of each circle (clear of its letter), right to left in badge order.
        x, y = square_right - 16 - 17 * slot + 3, square_bottom - 16 + 7
        assert _close(every.pixelColor(x, y), colour), slot
        assert not _close(plain.pixelColor(x, y), colour), slot
    only_small = _paint(qtbot, _item(small=True))
    x, y = square_right - 16 + 3, square_bottom - 16 + 7  # a lone badge takes the first slot
    assert _close(only_small.pixelColor(x, y), QUALITY_BADGES[3][2])
