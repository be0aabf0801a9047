"""Bulk edits over a query or an id list: dry run by default, one transaction when applied, undoable.

The dry run and the applied edit run the same planner over the same batches, so the dry run's
counts are exactly what `apply=True` writes. Each applied edit is one `edit_log` entry whose
snapshots let `undo` restore the previous state exactly and `redo` put the edit back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from genai_tag_db_tools.cleaning import clean_tag
from lorairo.database.edit_repository import BATCH, EditRepository, RowChange
from lorairo.database.engine import StoreSession
from lorairo.errors import ValidationError
from lorairo.export.crop import CropBox, box_for_aspect
from lorairo.search.query_language import RATINGS, WILDCARDS
from lorairo.services.progress import CancelToken, ProgressCallback, no_progress
from lorairo.services.project_service import Project
from lorairo.services.search_service import AliasResolver, SearchService
from lorairo.storage.trash import PendingMoves, TrashError, TrashFolder
from lorairo.utils.chunks import chunked

Position = Literal["front", "back"]
Planner = Callable[[StoreSession, list[int]], list[RowChange]]
# Called with the new edit's id once its rows are written, before the log entry is finished and
# committed; what it returns undoes it if anything after fails.
BeforeCommit = Callable[[int], Callable[[], object]]
SAMPLE_IMAGES = 20
REMOVE_IMAGES = "remove_images"


@dataclass(frozen=True)
class EditTarget:
    """Which images an edit touches: a query, or explicit ids (exactly one of the two)."""

    query: str | None = None
    ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if (self.query is None) == (self.ids is None):
            raise ValidationError("give either a query or a list of image ids")
        if self.query is not None and not self.query.strip():
            raise ValidationError("an empty query would select every image; use the query 'all'")
        if self.ids is not None and not self.ids:
            raise ValidationError("the id list is empty")


@dataclass
class EditReport:
    """What an edit changed (or, in a dry run, would change)."""

    operation: str
    description: str
    applied: bool
    edit_id: int | None = None
    images_matched: int = 0
    images_changed: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    samples: dict[int, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["samples"] = {str(k): v for k, v in self.samples.items()}
        return data


@dataclass
class RemovalReport(EditReport):
    """A removal: its row counts, and the files moved (or, in a dry run, to move) to the trash."""

    files: int = 0
    files_missing: int = 0
    trash: str | None = None


@dataclass(frozen=True)
class ReplayReport:
    """An undo or redo: which edit, and how many row changes were replayed."""

    action: Literal["undo", "redo"]
    edit_id: int
    operation: str
    description: str
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EditLogEntry:
    id: int
    operation: str
    description: str
    query: str | None
    affected_images: int
    created_at: datetime
    undone_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["undone_at"] = self.undone_at.isoformat() if self.undone_at else None
        return data


def tag_target(tags: list[str], *, rejected: bool = False) -> EditTarget:
    """The images holding any of `tags` (their rejected rows for `rejected`): the natural scope of
    remove, replace, reject and restore when the user names no query."""
    field_name = "rejected" if rejected else "tag"
    terms = []
    for tag in _clean_tags(tags):
        if not any(char in WILDCARDS for char in tag):
            escaped = tag.replace("\\", "\\\\").replace('"', '\\"')
            terms.append(f'{field_name}:"{escaped}"')
        elif any(char in tag for char in '"()\\'):
            return EditTarget(query="all")
        else:
            terms.append(f"{field_name}:{tag.replace(' ', '_')}")
    return EditTarget(query=" OR ".join(terms))


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(tag for tag in (clean_tag(t) for t in tags) if tag))
    if not cleaned:
        raise ValidationError("no tags given (after cleaning, every tag was empty)")
    return cleaned


class EditService:
    def __init__(self, project: Project, resolver: AliasResolver | None = None) -> None:
        self.project = project
        self.database = project.database
        self.search = SearchService(project, resolver)
        self.resolver = resolver
        self.repository = EditRepository()

    # -- selection ---------------------------------------------------------------------------

    def _batches(self, session: StoreSession, target: EditTarget) -> Iterator[list[int]]:
        if target.ids is not None:
            ids = sorted(set(target.ids))
            self.search.require_ids(ids, session)
            yield from chunked(ids, BATCH)
            return
        assert target.query is not None
        node, aliases = self.search.parse(target.query)
        yield from self.search.id_batches(node, aliases, BATCH, session)

    def _total(self, target: EditTarget) -> int:
        if target.ids is not None:
            return len(set(target.ids))
        assert target.query is not None
        return self.search.count(target.query)

    def _canonical(self, tags: list[str]) -> list[str]:
        if self.resolver is None:
            return tags
        resolved = self.resolver(tags)
        return list(dict.fromkeys(resolved.get(tag) or tag for tag in tags))

    # -- the common run --------------------------------------------------------------------------

    def _run(
        self,
        operation: str,
        description: str,
        target: EditTarget,
        parameters: dict[str, Any],
        planner: Planner,
        *,
        apply: bool,
        progress: ProgressCallback,
        cancel: CancelToken | None,
        before_commit: BeforeCommit | None = None,
    ) -> EditReport:
        cancel = cancel or CancelToken()
        report = EditReport(operation, description, applied=apply)
        total = self._total(target)
        changed: set[int] = set()

        def run(session: StoreSession, edit_id: int | None) -> None:
            for batch in self._batches(session, target):
                cancel.raise_if_cancelled()
                changes = planner(session, batch)
                if edit_id is not None:
                    self.repository.apply(session, edit_id, changes)
                report.images_matched += len(batch)
                for change in changes:
                    changed.add(change.image_id)
                    if change.action == "insert":
                        report.rows_inserted += 1
                    elif change.action == "update":
                        report.rows_updated += 1
                    else:
                        report.rows_deleted += 1
                    if change.image_id in report.samples or len(report.samples) < SAMPLE_IMAGES:
                        report.samples.setdefault(change.image_id, []).append(change.label)
                progress(report.images_matched, total, description)

        if apply:
            revert: Callable[[], object] | None = None
            try:
                with self.database.write_session() as session:
                    edit_id = self.repository.start_edit(
                        session,
                        operation,
                        description,
                        target.query,
                        json.dumps(self._params(target, parameters)),
                    )
                    run(session, edit_id)
                    cancel.raise_if_cancelled()
                    if changed and before_commit is not None:
                        revert = before_commit(edit_id)
                    self.repository.finish_edit(session, edit_id, len(changed))
                    report.edit_id = edit_id if changed else None
            except BaseException:
                if revert is not None:
                    revert()
                raise
        else:
            with self.database.read_session() as session:
                run(session, None)
        report.images_changed = len(changed)
        return report

    @staticmethod
    def _params(target: EditTarget, parameters: dict[str, Any]) -> dict[str, Any]:
        data = dict(parameters)
        if target.ids is not None:
            data["ids"] = list(target.ids)
        return data

    # -- operations ------------------------------------------------------------------------------

    def add_tags(
        self,
        target: EditTarget,
        tags: list[str],
        *,
        position: Position = "back",
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Add manual tags (source manual, no model) where the image does not already have them."""
        if position not in ("front", "back"):
            raise ValidationError(f"position must be front or back, got {position!r}")
        cleaned = self._canonical(_clean_tags(tags))
        return self._run(
            "add_tags",
            f"add {', '.join(cleaned)} ({position})",
            target,
            {"tags": cleaned, "position": position},
            lambda s, ids: self.repository.plan_add_tags(s, ids, cleaned, position),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def remove_tags(
        self,
        target: EditTarget,
        tags: list[str],
        *,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Remove tags (`*`/`?` wildcards allowed): manual rows deleted, model rows unaccepted."""
        cleaned = _clean_tags(tags)
        return self._run(
            "remove_tags",
            f"remove {', '.join(cleaned)}",
            target,
            {"tags": cleaned},
            lambda s, ids: self.repository.plan_remove_tags(s, ids, cleaned),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def replace_tag(
        self,
        target: EditTarget,
        old: str,
        new: str,
        *,
        regex: bool = False,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Replace a tag (exact, or a regex with `\\1` references) keeping its position."""
        if regex:
            try:
                re.compile(old)
            except re.error as exc:
                raise ValidationError(f"invalid regular expression {old!r}: {exc}") from exc
            pattern, replacement = old, new
        else:
            pattern = _clean_tags([old])[0]
            replacement = self._canonical(_clean_tags([new]))[0]
        return self._run(
            "replace_tag",
            f"replace {pattern} -> {replacement}{' (regex)' if regex else ''}",
            target,
            {"old": pattern, "new": replacement, "regex": regex},
            lambda s, ids: self.repository.plan_replace_tag(s, ids, pattern, replacement, regex=regex),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def reject_tags(
        self,
        target: EditTarget,
        tags: list[str],
        *,
        restore: bool = False,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Soft-reject tags (kept, but excluded from search and export), or restore them."""
        cleaned = _clean_tags(tags)
        verb = "restore" if restore else "reject"
        return self._run(
            f"{verb}_tags",
            f"{verb} {', '.join(cleaned)}",
            target,
            {"tags": cleaned},
            lambda s, ids: self.repository.plan_reject_tags(s, ids, cleaned, restore=restore),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def reorder_tags(
        self,
        image_id: int,
        ordered_tags: list[str],
        *,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Order one image's tags by hand (the editor's drag and drop, `tags reorder`): a decision
        that model re-runs keep and export follows, undoable like any edit."""
        if not any(tag.strip() for tag in ordered_tags):
            raise ValidationError("no tags given to order")
        ordered = _clean_tags(ordered_tags)
        return self._run(
            "reorder_tags",
            f"reorder tags of image {image_id}",
            EditTarget(ids=(image_id,)),
            {"tags": ordered},
            lambda s, ids: [c for i in ids for c in self.repository.plan_reorder_tags(s, i, ordered)],
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def set_caption(
        self,
        target: EditTarget,
        caption: str | None,
        *,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Set the manual caption (it wins over model captions); None clears it."""
        if caption is not None and not caption.strip():
            raise ValidationError("caption is empty; use clear to remove the manual caption")
        values = None if caption is None else {"caption": caption.strip()}
        return self._run(
            "set_caption",
            "clear caption" if caption is None else f"caption = {caption.strip()[:60]}",
            target,
            {"caption": caption},
            lambda s, ids: self.repository.plan_set_manual(s, ids, "captions", values),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def set_score(
        self,
        target: EditTarget,
        score: float | None,
        *,
        kind: str = "aesthetic",
        scale_max: float = 10.0,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Set the manual score of one kind (it wins over model scores of that kind); None clears it."""
        if score is not None and not 0 <= score <= scale_max:
            raise ValidationError(f"score must be between 0 and {scale_max}, got {score}")
        values = None if score is None else {"score": float(score), "scale_max": float(scale_max)}
        return self._run(
            "set_score",
            f"clear {kind} score" if score is None else f"{kind} score = {score}",
            target,
            {"score": score, "kind": kind, "scale_max": scale_max},
            lambda s, ids: self.repository.plan_set_manual(s, ids, "scores", values, kind=kind),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def set_rating(
        self,
        target: EditTarget,
        rating: str | None,
        *,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Set the manual content rating (it wins over model ratings); None clears it."""
        if rating is not None and rating not in RATINGS:
            raise ValidationError(f"rating must be one of {', '.join(RATINGS)}, got {rating!r}")
        values = None if rating is None else {"rating": rating}
        return self._run(
            "set_rating",
            "clear rating" if rating is None else f"rating = {rating}",
            target,
            {"rating": rating},
            lambda s, ids: self.repository.plan_set_manual(s, ids, "ratings", values),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def mark_reviewed(
        self,
        target: EditTarget,
        *,
        reviewed: bool = True,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        return self._run(
            "mark_reviewed",
            "mark reviewed" if reviewed else "mark unreviewed",
            target,
            {"reviewed": reviewed},
            lambda s, ids: self.repository.plan_reviewed(s, ids, reviewed),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def reject_from_export(
        self,
        target: EditTarget,
        *,
        restore: bool = False,
        reason: str | None = None,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Leave images out of every export (kept in the project), or restore them; one edit."""
        return self._run(
            "restore_export" if restore else "reject_export",
            "restore to export" if restore else "reject from export",
            target,
            {"restore": restore, "reason": reason},
            lambda s, ids: self.repository.plan_export_rejection(s, ids, not restore, reason),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def set_crop(
        self,
        target: EditTarget,
        crop: CropBox | tuple[float, str | tuple[float, float]] | None,
        *,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> EditReport:
        """Set each image's crop rectangle: a fixed box, or (aspect, focus) fitted to each image;
        None clears it. Export applies it; the original file is never changed."""

        def box_for(width: int, height: int) -> tuple[int, int, int, int] | None:
            if crop is None:
                return None
            box = crop if isinstance(crop, CropBox) else box_for_aspect(width, height, *crop)
            if not box.fits(width, height):
                raise ValidationError(f"crop {box.text} does not fit a {width}x{height} image")
            return box.x, box.y, box.width, box.height

        if crop is None:
            description = "clear crop"
        elif isinstance(crop, CropBox):
            description = f"crop {crop.text}"
        else:
            description = f"crop aspect {crop[0]:.4g} focus {crop[1]}"
        return self._run(
            "set_crop",
            description,
            target,
            {"crop": description},
            lambda s, ids: self.repository.plan_crop(s, ids, box_for),
            apply=apply,
            progress=progress,
            cancel=cancel,
        )

    def remove_images(
        self,
        target: EditTarget,
        *,
        apply: bool = False,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> RemovalReport:
        """Take images out of the project, as one undoable edit: every row about them is
        snapshotted and deleted, and their files (original copy, processed copies, thumbnail)
        move to `trash/<edit id>/`, never deleted.

        The files move after the rows are written and before the commit; if the move fails the
        transaction rolls back, and if the commit fails the files move back. A run killed in
        between leaves the manifest and its pending marker, and the next removal, undo or redo
        settles the files where the committed log says they belong."""
        seen: set[tuple[str, int]] = set()
        files: list[str] = []

        def planner(session: StoreSession, ids: list[int]) -> list[RowChange]:
            changes = self.repository.plan_remove_images(session, ids, seen)
            for change in changes:
                row = change.before or {}
                if change.table == "images":
                    files.extend(p for p in (row["stored_path"], row["thumbnail_path"]) if p)
                elif change.table == "processed_images":
                    files.append(row["path"])
            return changes

        moved: list[str] = []
        pending = PendingMoves(self.project.trash_dir)
        marked: list[int] = []

        def move_files(edit_id: int) -> Callable[[], object]:
            folder = self._trash(edit_id)
            pending.add(edit_id)  # before the first file moves: a crash from here on is settled
            marked.append(edit_id)
            try:
                moved.extend(folder.move_in(files))
            except TrashError:  # it put back what it had moved: nothing is pending
                pending.settled(edit_id)
                raise

            def put_back() -> None:
                folder.move_out()
                folder.discard()
                pending.settled(edit_id)

            return put_back

        if apply:
            self.settle_trash()
        report = self._run(
            REMOVE_IMAGES,
            "remove from project",
            target,
            {},
            planner,
            apply=apply,
            progress=progress,
            cancel=cancel,
            before_commit=move_files,
        )
        for edit_id in marked:  # committed: the files are where the log says
            pending.settled(edit_id)
        present = moved if apply else [p for p in files if self.project.file_path(p).is_file()]
        samples = {
            image_id: [label for label in dict.fromkeys(labels) if label.startswith("remove ")]
            + [
                f"{label} x{labels.count(label)}"
                for label in dict.fromkeys(labels)
                if not label.startswith("remove ")
            ]
            for image_id, labels in report.samples.items()
        }
        return RemovalReport(
            **{**report.__dict__, "samples": samples},
            files=len(present),
            files_missing=len(files) - len(present),
            trash=str(self._trash(report.edit_id).folder) if report.edit_id is not None else None,
        )

    def _trash(self, edit_id: int) -> TrashFolder:
        return TrashFolder(self.project.trash_dir / str(edit_id), self.project.file_path)

    def settle_trash(self) -> int:
        """Put the files of each trash folder with a move pending where the committed edit log
        says they belong (in the trash for a removal in force, back in the project otherwise):
        the repair after a run died between moving files and committing. Only the folders with a
        pending marker are looked at (every folder once, in a trash made before the markers), so
        its cost follows the moves cut short, not the removals ever made. Returns how many files
        moved."""
        root = self.project.trash_dir
        if not root.is_dir():
            return 0
        pending = PendingMoves(root)
        legacy = not pending.tracked()
        folders = sorted(int(p.name) for p in root.iterdir() if p.name.isdigit()) if legacy else pending.ids()
        moved = 0
        if folders:
            with self.database.write_session() as session:
                live = self.repository.live_removals(session, folders)
                for edit_id in folders:
                    folder = self._trash(edit_id)
                    # a file an image uses again (registered since) stays where that image needs it
                    keep = (
                        self.repository.paths_in_use(session, folder.stored()) if edit_id in live else set()
                    )
                    moved += folder.settle(in_trash=edit_id in live, keep=keep)
        if legacy:
            pending.track()
        for edit_id in folders:
            pending.settled(edit_id)
        return moved

    # -- the log -----------------------------------------------------------------------------

    def undo(self) -> ReplayReport:
        """Revert the newest edit that is not undone, restoring its `before` snapshots."""
        return self._replay(forward=False)

    def redo(self) -> ReplayReport:
        """Re-apply the oldest undone edit, as long as no new edit was made after undoing it."""
        return self._replay(forward=True)

    def _replay(self, *, forward: bool) -> ReplayReport:
        """Replay an edit's rows; a removal's files move too, in the transaction's shadow (rows
        first, then files, then the commit; the files go back if the commit fails)."""
        self.settle_trash()
        pending = PendingMoves(self.project.trash_dir)
        marked: int | None = None
        revert: Callable[[], object] | None = None
        try:
            with self.database.write_session() as session:
                entry = (
                    self.repository.redo_candidate(session)
                    if forward
                    else self.repository.undo_candidate(session)
                )
                if entry is None:
                    raise ValidationError("nothing to redo" if forward else "nothing to undo")
                removal = entry.operation == REMOVE_IMAGES
                if removal and not forward:
                    removed = self.repository.removed_images(session, entry.id)
                    problems = self.repository.restore_conflicts(session, removed)
                    if problems:
                        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
                        raise ValidationError(
                            f"cannot undo edit #{entry.id} (remove from project): "
                            + "; ".join(problems[:3])
                            + f"{more}; putting it back would hold the same image twice or "
                            "lose the newer one, so the removal stays (nothing was changed)"
                        )
                rows = self.repository.replay(session, entry.id, forward=forward)
                self.repository.mark(session, entry.id, undone=not forward)
                if removal:
                    folder = self._trash(entry.id)
                    pending.add(entry.id)  # before the first file moves
                    marked = entry.id
                    if forward:
                        folder.move_all_in()
                        revert = folder.move_out
                    else:
                        folder.move_out()
                        revert = folder.move_all_in
                report = ReplayReport(
                    "redo" if forward else "undo", entry.id, entry.operation, entry.description, rows
                )
        except BaseException:
            if revert is not None:
                revert()
            if marked is not None:  # the files are back where the (unchanged) log says
                pending.settled(marked)
            raise
        if marked is not None:  # committed
            pending.settled(marked)
        return report

    def log(self, limit: int = 50) -> list[EditLogEntry]:
        with self.database.read_session() as session:
            return [
                EditLogEntry(
                    e.id, e.operation, e.description, e.query, e.affected_images, e.created_at, e.undone_at
                )
                for e in self.repository.entries(session, limit)
            ]
