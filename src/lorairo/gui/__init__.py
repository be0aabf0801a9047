"""The PySide6 desktop window. The only package that imports Qt; this module itself does not, so
the CLI can ask whether a display exists without loading Qt."""

from __future__ import annotations

import os
import sys


def desktop_session() -> bool:
    """A user's desktop (Windows, macOS, X11 or Wayland): where bare `lorairo` opens the window."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def display_available() -> bool:
    """A window can be created: a desktop session, or an explicit Qt platform such as offscreen."""
    return desktop_session() or bool(os.environ.get("QT_QPA_PLATFORM"))
