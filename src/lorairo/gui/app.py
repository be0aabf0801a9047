"""QApplication set-up and `run_gui()`, the entry point `lorairo gui` calls."""

from __future__ import annotations

import ctypes
import gc
import sys

from PySide6.QtWidgets import QApplication

from lorairo.gui.main_window import MainWindow
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService

NONE_RESERVE = 1 << 40
GC_OLD_THRESHOLD = 1000  # middle collections between full ones (CPython default: 10)


def pin_none() -> None:
    """Make None's reference count unreachable by zero, as Python 3.12 does (PEP 683).

    The PySide6 6.12 abi3 wheel returns None from void methods (`QPainter.save`, `setPen`, ...)
    without a new reference; Python 3.11 then drops None's count by one per call, and a delegate
    painting a few thousand cells aborts the interpreter ("none_dealloc: deallocating None").
    """
    if sys.version_info >= (3, 12) or sys.getrefcount(None) > NONE_RESERVE:
        return
    before = sys.getrefcount(None)
    count = ctypes.c_ssize_t.from_address(id(None))
    if count.value == before - 1:  # ob_refcnt is the first field (release builds)
        count.value += NONE_RESERVE


def application() -> QApplication:
    pin_none()
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
    pin_none()
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
