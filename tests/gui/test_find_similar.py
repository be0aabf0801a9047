""" "Find similar" in the real window, offscreen: the current image's look-alikes fill the grid
through the `similar:` query, the image itself left out."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from lorairo.gui.app import create_window
from lorairo.gui.widgets.image_inspector import ImageInspector
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from lorairo.services.search_service import SearchService
from lorairo.services.similarity_service import SimilarityService
from tests.gui.conftest import IMAGES
from tests.similarity.helpers import PROJECTION, real_signatures


def test_find_similar_shows_the_current_images_neighbours(
    qtbot: QtBot, config: ConfigurationService, demo_project: str, tmp_path: Path
) -> None:
    folder = tmp_path / "clip"
    real_signatures().build_clip_encoder(folder / "onnx" / "vision_model.onnx", PROJECTION)
    config.annotator_config_path.write_text(
        f'[tiny-clip]\nclass = "ImageEmbedder"\nmodel_path = "{folder.as_posix()}"\ninput_size = 32\n',
        encoding="utf-8",
    )
    project = ProjectService(config).open(demo_project)
    try:
        report = AnnotationService(project, config).run(["tiny-clip"])
        assert report.embeddings_stored == IMAGES
    finally:
        project.close()

    window = create_window(config, demo_project)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.project is not None and window.model.total == IMAGES, timeout=30_000)
    qtbot.waitUntil(lambda: window.model.item(0) is not None, timeout=10_000)
    window.grid.select_rows([2])
    current = window.grid.current_image_id()
    assert current is not None
    window.actions_by_name["find_similar"].trigger()
    assert window.search_bar.text == f"similar:{current}"
    qtbot.waitUntil(lambda: window.model.total == IMAGES - 1, timeout=30_000)
    qtbot.waitUntil(lambda: window.model.item(IMAGES - 2) is not None, timeout=10_000)
    shown = [window.model.item(row).id for row in range(IMAGES - 1)]
    assert current not in shown and len(set(shown)) == IMAGES - 1
    project = ProjectService(config).open(demo_project)
    try:  # the grid lists them most similar first, not in the order they were added
        ranked = [r.id for r in SimilarityService(project).similar(current).results]
    finally:
        project.close()
    assert shown == ranked and window.model.order == "similarity"
    index = window.model.index(0, 0)
    first = window.model.item(0)
    assert first is not None
    menu = window.grid.context_menu(index)
    assert menu is not None
    [entry] = [a for a in menu.actions() if a.text() == "Find similar"]
    entry.trigger()
    assert window.search_bar.text == f"similar:{first.id}"
    qtbot.waitUntil(lambda: window.model.item(0) is not None, timeout=30_000)
    window.grid.select_rows([1])
    chosen = window.grid.current_image_id()
    button = window.inspector.find_similar
    qtbot.waitUntil(lambda: window.inspector.image_id == chosen and button.isEnabled(), timeout=10_000)
    assert "tiny-clip" in button.toolTip()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # the inspector's button: the same query
    assert window.search_bar.text == f"similar:{chosen}"
    window.close()


def test_the_inspector_offers_find_similar_only_with_an_embedding(
    qtbot: QtBot, config: ConfigurationService, demo_project: str
) -> None:
    project = ProjectService(config).open(demo_project)
    try:
        record = SearchService(project).details([SearchService(project).ordered_ids("")[0]])[0]
    finally:
        project.close()
    assert record["embeddings"] == []
    inspector = ImageInspector()
    qtbot.addWidget(inspector)
    inspector.show_record(record)
    assert inspector.isEnabled() and not inspector.find_similar.isEnabled()
    assert "run an embedding model" in inspector.find_similar.toolTip()
    inspector.show_record({**record, "embeddings": ["tiny-clip"]})
    assert inspector.find_similar.isEnabled()
    with qtbot.waitSignal(inspector.find_similar_requested) as asked:
        qtbot.mouseClick(inspector.find_similar, Qt.MouseButton.LeftButton)
    assert asked.args == [record["id"]]
