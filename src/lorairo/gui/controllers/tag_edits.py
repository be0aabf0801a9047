"""A tag editor's requests become edits of the images it shows: one image, or a multi-selection
(one edit of all of them, with the tag's count before and after).

`EditQueue` runs edits one after another in a worker, in the order they were asked for: Enter then
Ctrl+Enter in quick succession must reach the edit log in that order, so Ctrl+Z undoes the last one.
Renaming everywhere goes through the bulk replace: a dry run first, whose counts the person confirms.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, SignalInstance
from PySide6.QtWidgets import QMessageBox

from genai_tag_db_tools.cleaning import clean_tag
from lorairo.gui.widgets.tag_editor import TagEditor
from lorairo.gui.workers import Task
from lorairo.services.edit_service import EditReport, EditService, EditTarget, tag_target
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.search_service import SearchService
from lorairo.services.tag_service import TagService

EditFn = Callable[[EditService], Any]


class Session(Protocol):
    """What the tag edits need of `ProjectSession`."""

    search: SearchService | None
    edits: EditService | None
    tags: TagService
    edited: SignalInstance
    changed_elsewhere: SignalInstance
    message: SignalInstance

    def start(
        self,
        name: str,
        fn: Callable[[ProgressCallback, CancelToken], Any],
        on_success: Callable[[Any], None] | None = None,
    ) -> Task: ...

    def start_quiet(
        self, name: str, fn: Callable[[ProgressCallback, CancelToken], Any], on_success: Callable[[Any], None]
    ) -> Task: ...


class EditQueue(QObject):
    """Edits in a worker, one at a time, in order; each outcome goes out on `session.edited`."""

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._pending: deque[tuple[str, EditFn, Callable[[Any], None] | None]] = deque()
        self.running: Task | None = None

    def submit(self, what: str, edit: EditFn, done: Callable[[Any], None] | None = None) -> None:
        self._pending.append((what, edit, done))
        if self.running is None:
            self._next()

    def idle(self) -> bool:
        return self.running is None and not self._pending

    def _next(self) -> None:
        self.running = None
        service = self.session.edits
        if not self._pending or service is None:
            self._pending.clear()
            return
        what, edit, done = self._pending.popleft()

        def finished(result: Any) -> None:
            if done is not None:
                done(result)
            self.session.edited.emit(result.report if isinstance(result, Counted) else result)

        task = self.session.start(what, lambda _p, _c: edit(service), finished)
        task.finished.connect(self._next)
        self.running = task


@dataclass(frozen=True)
class Counted:
    """An edit's report and, for the tags it named, on how many of the images they are after it."""

    report: EditReport
    after: dict[str, int]


class TagEditBinding(QObject):
    """Wires one `TagEditor` to edits of `target()` (the image ids it shows)."""

    search_requested = Signal(str, bool)  # tag, replace the query
    reported = Signal(str)  # what the last edit did, for the status bar and the editor

    def __init__(
        self,
        editor: TagEditor,
        session: Session,
        queue: EditQueue,
        target: Callable[[], tuple[int, ...]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or editor)
        self.editor, self.session, self.queue, self.target = editor, session, queue, target
        self.confirm: QMessageBox | None = None  # the open rename-everywhere confirmation
        editor.add_requested.connect(self.add)
        editor.accept_requested.connect(lambda tag: self.add([tag]))
        editor.reject_requested.connect(self.reject)
        editor.rename_requested.connect(self.rename)
        editor.reorder_requested.connect(self.reorder)
        editor.search_requested.connect(self.search_requested)
        editor.undo_requested.connect(lambda: self.queue.submit("undo", lambda s: s.undo()))
        editor.prefix_typed.connect(self._suggest)
        self.reported.connect(self.session.message)

    def _counted(
        self, ids: tuple[int, ...], tags: list[str], edit: Callable[[EditService], EditReport]
    ) -> EditFn:
        """The edit, then the named tags' counts on `ids` read back from the store."""

        def run(service: EditService) -> Counted:
            report = edit(service)
            counts = {tag.casefold(): n for tag, n in service.search.tag_counts(list(ids)).items()}
            named = [cleaned for cleaned in (clean_tag(tag) for tag in tags) if cleaned]
            return Counted(report, {tag: counts.get(tag.casefold(), 0) for tag in named})

        return run

    def _report(self, ids: tuple[int, ...], before: dict[str, int]) -> Callable[[Counted], None]:
        total = len(ids)

        def done(result: Counted) -> None:
            changes = ", ".join(
                f"{tag} {before.get(tag.casefold(), 0)} → {after} of {total}"
                for tag, after in result.after.items()
            )
            self.reported.emit(f"{result.report.description}: {changes}")

        return done

    def add(self, tags: list[str]) -> None:
        ids = self.target()
        if ids:
            before = self.editor.list.counts()
            edit = self._counted(ids, tags, lambda s: s.add_tags(EditTarget(ids=ids), tags, apply=True))
            self.queue.submit("add tags", edit, self._report(ids, before))

    def reject(self, tag: str, restore: bool) -> None:
        ids = self.target()
        if ids:
            before = self.editor.list.counts()
            edit = self._counted(
                ids, [tag], lambda s: s.reject_tags(EditTarget(ids=ids), [tag], restore=restore, apply=True)
            )
            self.queue.submit("restore tag" if restore else "reject tag", edit, self._report(ids, before))

    def reorder(self, tags: list[str]) -> None:
        ids = self.target()
        if len(ids) == 1:
            self.queue.submit("reorder tags", lambda s: s.reorder_tags(ids[0], tags, apply=True))

    def rename(self, old: str, new: str, everywhere: bool) -> None:
        """On the shown images: one replace edit. Everywhere: a dry run of the bulk replace over
        every image holding the tag, applied once the person confirms its counts."""
        ids = self.target()
        if not ids:
            return
        if not everywhere:
            before = self.editor.list.counts()
            edit = self._counted(
                ids, [new], lambda s: s.replace_tag(EditTarget(ids=ids), old, new, apply=True)
            )
            self.queue.submit("rename tag", edit, self._report(ids, before))
            return
        if self.session.edits is None:
            return
        service = self.session.edits
        target = tag_target([old])
        self.session.start(
            "rename dry run",
            lambda _p, _c: service.replace_tag(target, old, new, apply=False),
            lambda report: self._confirm_everywhere(target, old, new, report),
        )

    def _confirm_everywhere(self, target: EditTarget, old: str, new: str, dry: EditReport) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Rename everywhere",
            f"Rename “{old}” to “{new}” on {dry.images_changed} image(s) "
            f"({dry.rows_inserted} added, {dry.rows_updated + dry.rows_deleted} replaced)?\n"
            "This is one edit: Ctrl+Z undoes it.",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            self.editor.window(),
        )
        box.setDefaultButton(QMessageBox.StandardButton.Ok)

        def answered(button: int) -> None:
            self.confirm = None
            if button == QMessageBox.StandardButton.Ok:
                self.queue.submit("rename everywhere", lambda s: s.replace_tag(target, old, new, apply=True))

        box.finished.connect(answered)
        self.confirm = box
        box.open()

    def _suggest(self, prefix: str) -> None:
        if len(prefix) < 2:
            return
        tags = self.session.tags

        def work(_p: ProgressCallback, _c: CancelToken) -> list[tuple[str, int]]:
            return [(s.tag, s.usage_count) for s in tags.autocomplete(prefix, limit=15)]

        self.session.start_quiet("autocomplete", work, self.editor.set_suggestions)
