"""The search bar and the facets decide what the grid shows; facets and tag counts load after it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from lorairo.gui.models.thumbnail_loader import ThumbnailLoader
from lorairo.gui.models.thumbnail_model import SearchGridSource, ThumbnailModel
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.facets_panel import FacetsPanel
from lorairo.gui.widgets.search_bar import SearchBar, quote_tag
from lorairo.gui.widgets.thumbnail_view import ThumbnailGridView
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.project_service import Project
from lorairo.services.search_service import Facets, QueryExplanation

FACET_TAGS = 50
PROJECT_TAGS = 500
GROW_DELAY_MS = 500  # a registration's batches recount the result at most twice a second


class SearchController(QObject):
    """Runs the query of the bar plus the facet filters; keeps facets and tag vocabularies fresh."""

    project_tags_loaded = Signal(dict)  # tag -> image count, for the completers

    def __init__(
        self,
        session: ProjectSession,
        search_bar: SearchBar,
        facets: FacetsPanel,
        model: ThumbnailModel,
        view: ThumbnailGridView,
        loader: ThumbnailLoader,
    ) -> None:
        super().__init__(search_bar)
        self.session, self.search_bar, self.facets = session, search_bar, facets
        self.model, self.view, self.loader = model, view, loader
        search_bar.submitted.connect(lambda _text: self.run_query())
        facets.tag_clicked.connect(self._facet_tag)
        facets.filters_changed.connect(self.run_query)
        model.count_changed.connect(search_bar.show_count)
        model.count_changed.connect(self._count_changed)
        model.query_failed.connect(lambda _exc: view.set_empty_message(""))
        model.query_failed.connect(search_bar.show_error)
        self._after_first_page: dict[str, Callable[[], None]] = {}
        self._deferred_stage = ""  # what the deferred loads wait for: page, paint, thumbnails
        model.page_loaded.connect(lambda _page: self._page_loaded())
        model.query_failed.connect(lambda _exc: self._run_deferred())
        view.painted.connect(self._view_painted)
        loader.idle.connect(self._loader_idle)
        self._facets_generation = 0
        self._grow_timer = QTimer(self)
        self._grow_timer.setSingleShot(True)
        self._grow_timer.setInterval(GROW_DELAY_MS)
        self._grow_timer.timeout.connect(model.refresh_count)
        session.opened.connect(self._opened)
        session.edited.connect(lambda _report: self.refresh())
        session.changed_elsewhere.connect(lambda _version: self.refresh_live())
        project_tags = self.project_tags_loaded
        project_tags.connect(lambda counts: search_bar.completer.set_tags(list(counts)))

    def query(self) -> str:
        return " ".join(part for part in (self.search_bar.text, self.facets.terms()) if part)

    def focus(self) -> None:
        self.search_bar.line.setFocus()
        self.search_bar.line.selectAll()

    def has_focus(self) -> bool:
        return self.search_bar.line.hasFocus()

    def _opened(self, _project: Project) -> None:
        assert self.session.search is not None
        resolution = max(self.session.config.config.image_processing.target_resolutions, default=None)
        self.model.set_source(SearchGridSource(self.session.search, resolution), self.query())
        self._defer("facets", self.load_facets)
        self._defer("project tags", self.load_project_tags)

    def run_query(self) -> None:
        if self.session.search is None:
            return
        self.model.set_query(self.query())
        self._defer("facets", self.load_facets)

    def refresh(self) -> None:
        """After an edit of this window: grid pages in place (when the count changed, the
        selection, current image and scroll follow their images), facet counts, the vocabularies."""
        self.model.soft_refresh(
            self.view.visible_rows(), self.view.currentIndex().row(), self._selected_rows()
        )
        self.load_facets()
        self.load_project_tags()

    def refresh_live(self) -> None:
        """Another process stored something: the visible rows re-read in place (selection,
        current image and scroll kept, new images at the end), facet counts, the vocabularies."""
        self.model.live_refresh(
            self.view.visible_rows(), self.view.currentIndex().row(), self._selected_rows()
        )
        self.load_facets()
        self.load_project_tags()

    def _selected_rows(self) -> list[int]:
        selection = self.view.selectionModel().selection()
        return [
            row
            for i in range(selection.count())
            for row in range(selection.at(i).top(), selection.at(i).bottom() + 1)
        ]

    def grow_later(self) -> None:
        """Rows were added (a registration batch): recount soon, appending without a reset."""
        if not self._grow_timer.isActive():
            self._grow_timer.start()

    def grown(self) -> None:
        """A registration ended: the final count, facets and vocabularies."""
        self.model.refresh_count()
        self.load_facets()
        self.load_project_tags()

    def _count_changed(self, total: int) -> None:
        """An empty result says why instead of showing a blank grid."""
        query = self.query()
        if total or not query:
            self.view.set_empty_message("" if query or total else "No images yet: Project ▸ Register folder…")
            return
        self.view.set_empty_message(f"No images match\n{query}")
        search = self.session.search
        if search is not None:  # the parsed form and a suggestion need whole-result counts: a worker
            self.session.start_quiet(
                "explain", lambda _p, _c: search.explain(query), lambda found: self._explained(query, found)
            )

    def _explained(self, query: str, explanation: QueryExplanation) -> None:
        if query == self.query() and explanation.total == 0:  # still the query on screen
            self.view.set_empty_message(explanation.message)

    # -- loads deferred until the first page is on screen ----------------------------------

    def _defer(self, name: str, load: Callable[[], None]) -> None:
        """Start `load` once the grid shows its first page with thumbnails: whole-result queries
        (facets, tag counts) would otherwise take the cores and the GIL from the page query and
        the decoders the user is waiting for."""
        self._after_first_page[name] = load
        self._deferred_stage = "page"

    def _page_loaded(self) -> None:
        if self._deferred_stage == "page":
            if self.view.isVisible():
                self._deferred_stage = "paint"  # the paint asks for the visible thumbnails
            else:
                self._run_deferred()

    def _view_painted(self) -> None:
        if self._deferred_stage == "paint":
            if self.loader.busy():
                self._deferred_stage = "thumbnails"
            else:
                self._run_deferred()

    def _loader_idle(self) -> None:
        if self._deferred_stage == "thumbnails":
            self._run_deferred()

    def _run_deferred(self) -> None:
        self._deferred_stage = ""
        loads, self._after_first_page = self._after_first_page, {}
        for load in loads.values():
            load()

    # -- facets and vocabularies -----------------------------------------------------------

    def load_facets(self) -> None:
        if self.session.search is None:
            return
        search, query = self.session.search, self.query()
        self._facets_generation += 1
        generation = self._facets_generation

        def shown(facets: Facets) -> None:
            if generation == self._facets_generation:
                self.facets.show_facets(facets)

        self.session.start_quiet("facets", lambda _p, _c: search.facets(query, top=FACET_TAGS), shown)

    def _facet_tag(self, tag: str, exclude: bool) -> None:
        self.search_bar.add_term(f"{'-' if exclude else ''}tag:{quote_tag(tag)}")

    def load_project_tags(self) -> None:
        """The project's own tags (with image counts) for the completers."""
        if self.session.search is None:
            return
        search = self.session.search

        def work(_p: ProgressCallback, _c: CancelToken) -> dict[str, int]:
            facets = search.facets("", top=PROJECT_TAGS)
            return {count.tag: count.images for counts in facets.tags.values() for count in counts}

        self.session.start("project tags", work, self.project_tags_loaded.emit)
