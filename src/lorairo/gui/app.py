"""QApplication set-up and `run_gui()`, the entry point `lorairo gui` calls."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from lorairo.gui.main_window import MainWindow
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService


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
    return app


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
