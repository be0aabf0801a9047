"""QApplication set-up and `run_gui()`, the entry point `lorairo gui` calls."""

from __future__ import annotations

import gc
import sys

from PySide6.QtWidgets import QApplication

from lorairo.gui.main_window import MainWindow
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService

GC_OLD_THRESHOLD = 1000  # middle collections between full ones (CPython default: 10)


def application() -> QApplication:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    # Workers run Python (queries, decoding glue); every paint calls back into Python, and with
    # the default 5 ms switch interval each callback could wait that long for the GIL.
    sys.setswitchinterval(0.0005)
    app = QApplication(sys.argv[:1])
    app.setApplicationName("LoRAIro")
    app.setOrganizationName("LoRAIro")
    tune_gc()
    return app


def tune_gc() -> None:
    """Keep full garbage collections off the event loop's critical path.

    A full collection walks every tracked object with all threads stopped; with the imported
    libraries that is ~200k objects, 120-150 ms on a busy two-core machine, and a worker that
    allocates steadily (ORM rows, the registration's pHash index) triggered one every few hundred
    ms. The objects alive after start-up are never garbage, so they are frozen out of collection,
    and full collections wait for ~7M net container allocations instead of ~70k (young and middle
    collections still reclaim short-lived cycles; with 1000 they no longer fired mid-registration).
    """
    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, GC_OLD_THRESHOLD)


def create_window(config: ConfigurationService, project: str | None = None) -> MainWindow:
    """The main window opening `project`, else the last project, else the default one."""
    window = MainWindow(config)
    name = project
    if name is None:
        last = config.config.gui.last_project
        name = last if last and ProjectService(config).exists(last) else None
    window.open_project(name, create=project is not None)
    return window


def run_gui(config: ConfigurationService, project: str | None = None) -> int:
    app = application()
    window = create_window(config, project)
    window.show()
    return app.exec()
