"""Light and dark: follow the desktop's colour scheme unless the `gui.theme` setting overrides it.

When the platform already draws the wanted scheme (a native dark theme on a dark desktop) its own
style and palette stay. Otherwise the Fusion style draws with the palette below, because native
styles such as Windows Vista ignore a palette's dark colours for some controls. Fusion paints a
checked radio button's dot in the Text colour on the Base colour, so the two are far apart in
lightness here: a selected radio button stays visible.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")
Role, Group = QPalette.ColorRole, QPalette.ColorGroup

DARK_COLOURS = {
    Role.Window: QColor(45, 45, 48),
    Role.WindowText: QColor(225, 225, 225),
    Role.Base: QColor(30, 30, 32),
    Role.AlternateBase: QColor(42, 42, 46),
    Role.ToolTipBase: QColor(60, 60, 64),
    Role.ToolTipText: QColor(235, 235, 235),
    Role.PlaceholderText: QColor(150, 150, 150),
    Role.Text: QColor(230, 230, 230),
    Role.Button: QColor(55, 55, 60),
    Role.ButtonText: QColor(230, 230, 230),
    Role.BrightText: QColor(255, 90, 90),
    Role.Light: QColor(80, 80, 86),
    Role.Midlight: QColor(66, 66, 72),
    Role.Mid: QColor(50, 50, 54),
    Role.Dark: QColor(25, 25, 27),
    Role.Shadow: QColor(10, 10, 10),
    Role.Highlight: QColor(45, 120, 200),
    Role.HighlightedText: QColor(255, 255, 255),
    Role.Link: QColor(100, 170, 255),
    Role.LinkVisited: QColor(170, 140, 255),
}
DARK_DISABLED = {
    Role.WindowText: QColor(125, 125, 125),
    Role.Text: QColor(125, 125, 125),
    Role.ButtonText: QColor(125, 125, 125),
    Role.Highlight: QColor(70, 70, 76),
    Role.HighlightedText: QColor(160, 160, 160),
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in DARK_COLOURS.items():
        palette.setColor(role, colour)
    for role, colour in DARK_DISABLED.items():
        palette.setColor(Group.Disabled, role, colour)
    return palette


def is_dark(palette: QPalette) -> bool:
    return palette.color(Role.Window).lightness() < 128


class ThemeManager(QObject):
    """Applies a theme to the application and re-applies `system` when the desktop switches."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.app = app
        self.theme = "system"
        self.current = "light"
        style = app.style()
        self._native_style = style.name() if style is not None else "fusion"
        self._native_palette = QPalette(app.palette())
        self._forced = False
        app.styleHints().colorSchemeChanged.connect(self._scheme_changed)

    def resolved(self, theme: str) -> str:
        """`light` or `dark`: what `theme` means on this desktop now (unknown counts as light)."""
        if theme in ("light", "dark"):
            return theme
        return "dark" if self.app.styleHints().colorScheme() == Qt.ColorScheme.Dark else "light"

    def apply(self, theme: str) -> str:
        """Switch the whole application to `theme`; returns `light` or `dark`."""
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}; expected one of {', '.join(THEMES)}")
        self.theme = theme
        self.current = self.resolved(theme)
        if (self.current == "dark") == is_dark(self._native_palette):
            self.app.setStyle(self._native_style)
            self.app.setPalette(self._native_palette)
            self._forced = False
        else:
            self.app.setStyle("Fusion")
            style = self.app.style()
            light = style.standardPalette() if style is not None else QPalette()
            self.app.setPalette(dark_palette() if self.current == "dark" else light)
            self._forced = True
        return self.current

    def _scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if not self._forced:  # the platform has just given its palette for the new scheme
            self._native_palette = QPalette(self.app.palette())
        self.apply(self.theme)


def theme_manager(app: QApplication | None = None) -> ThemeManager:
    """The application's one theme manager (created on first use)."""
    app = app or QApplication.instance()  # type: ignore[assignment]
    if not isinstance(app, QApplication):
        raise RuntimeError("no QApplication")
    existing = app.findChild(ThemeManager)
    return existing if isinstance(existing, ThemeManager) else ThemeManager(app)
