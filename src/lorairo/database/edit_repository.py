"""Bulk edits as row changes with before/after snapshots, so every edit can be undone exactly.

An edit is planned batch by batch from the rows as they are (`plan_*` read only), then either
discarded (dry run) or applied inside the caller's write transaction and logged to `edit_log` +
`edit_changes`. Applying, undoing and redoing all replay the same snapshots: undo writes `before`,
redo writes `after`. New rows get explicit ids (max + 1 under the write lock), so a redone insert
comes back with the id the log recorded.

Model output is never overwritten: what a person decides about a tag on an image (reject, remove,
order) is a `tag_decisions` row, which no model run touches, so undo and redo stay exact after any
re-run. Removing a manual tag deletes its row.

Removing an image from the project (`plan_remove_images`) is the same kind of edit: a delete of the
image row and of every row that refers to it, children first, each snapshotted, so undo puts them
all back with their ids (the files are the service's part, see `storage/trash.py`).
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    DateTime,
    LargeBinary,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from genai_tag_db_tools.cleaning import clean_tag
from lorairo.database.change_feed import bump as bump_changes
from lorairo.database.dialect import fold, nocase, sync_id_sequences
from lorairo.database.effective import effective_tag
from lorairo.database.schema import SOURCE_MANUAL, Base, EditChange, EditLog, Image, utcnow
from lorairo.errors import DatabaseError, ValidationError

Action = Literal["insert", "update", "delete"]
# What removing an image deletes (and undo restores), children before the image row. Every table
# with a foreign key to `images.id` is here, except the queue's `work_item_images` (a place in an
# open work item, not the person's data: the image goes out of the queue, and after an undo a later
# run queues it again).
REMOVED_WITH_IMAGE = (
    "tags",
    "tag_decisions",
    "captions",
    "scores",
    "ratings",
    "model_annotations",
    "annotation_failures",
    "annotation_styles",
    "image_crops",
    "image_quality",
    "image_embeddings",
    "export_rejections",
    "processed_images",
    "image_similarities",
)
NOT_REMOVED_WITH_IMAGE = ("work_item_images",)
TABLES: dict[str, Table] = {name: Base.metadata.tables[name] for name in (*REMOVED_WITH_IMAGE, "images")}
_RANK = {table.name: rank for rank, table in enumerate(Base.metadata.sorted_tables)}
BATCH = 500


@dataclass
class RowChange:
    """One planned row change; `row` is the id once known, `label` a human line for dry runs."""

    table: str
    action: Action
    image_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    label: str
    row: int | None = None


def _jsonable_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _jsonable_value(value) for key, value in row.items()}


def _from_json(table: Table, data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for column in table.columns:
        value = out.get(column.name)
        if isinstance(column.type, DateTime) and isinstance(value, str):
            out[column.name] = datetime.fromisoformat(value)
        elif isinstance(column.type, LargeBinary) and isinstance(value, str):
            out[column.name] = base64.b64decode(value)
    return out


def _key(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's primary key as bind values (`id`, or the columns of a composite key)."""
    return {f"_k_{column.name}": row[column.name] for column in table.primary_key.columns}


def _by_key(table: Table) -> Any:
    return and_(*(column == bindparam(f"_k_{column.name}") for column in table.primary_key.columns))


def tag_matcher(patterns: Iterable[str]) -> re.Pattern[str]:
    """Case-insensitive full match of canonical tags; `*` and `?` are wildcards."""
    parts = []
    for pattern in patterns:
        parts.append("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))
    return re.compile("(?:" + "|".join(parts) + ")", re.IGNORECASE | re.DOTALL)


class EditRepository:
    """Plans and writes bulk edits inside sessions the service opens."""

    @staticmethod
    def _rows(session: Session, table: str, image_ids: list[int], **equal: Any) -> list[dict[str, Any]]:
        t = TABLES[table]
        statement = select(t).where(t.c.image_id.in_(image_ids))
        for key, value in equal.items():
            statement = statement.where(t.c[key] == value)
        return [dict(row) for row in session.execute(statement.order_by(t.c.id)).mappings()]

    @staticmethod
    def _effective_rows(session: Session, image_ids: list[int]) -> list[dict[str, Any]]:
        """The tag rows that count (`effective_tag`), as snapshots."""
        t = TABLES["tags"]
        statement = select(t).where(t.c.image_id.in_(image_ids), effective_tag()).order_by(t.c.id)
        return [dict(row) for row in session.execute(statement).mappings()]

    def _decisions(self, session: Session, image_ids: list[int]) -> dict[tuple[int, str], dict[str, Any]]:
        """The batch's tag decisions by (image, tag folded as NOCASE folds)."""
        return {
            (row["image_id"], fold(row["tag"])): row
            for row in self._rows(session, "tag_decisions", image_ids)
        }

    @staticmethod
    def _decide(
        decisions: Mapping[tuple[int, str], dict[str, Any]],
        image_id: int,
        tag: str,
        label: str,
        now: datetime,
        **values: Any,
    ) -> RowChange | None:
        """Set decision columns of (image, tag): the row is created on the first decision and kept
        after (emptied, not deleted), so every edit-log entry about it stays replayable."""
        row = decisions.get((image_id, fold(tag)))
        if row is None:
            after = {
                "image_id": image_id,
                "tag": tag,
                "rejected_at": None,
                "removed_at": None,
                "position": None,
                "created_at": now,
                "updated_at": now,
                **values,
            }
            return RowChange("tag_decisions", "insert", image_id, None, after, label)
        if all(row[key] == value for key, value in values.items()):
            return None
        after = {**row, **values, "updated_at": now}
        return RowChange("tag_decisions", "update", image_id, row, after, label, row["id"])

    # -- planning (reads only) ----------------------------------------------------------------

    def plan_add_tags(
        self, session: Session, image_ids: list[int], tags: list[str], position: str
    ) -> list[RowChange]:
        """Add each tag where the image lacks it, before its first or after its last position; a
        rejection or removal of that tag on the image is lifted (the person asked for it).

        "Lacks" means what `tag:` search means (no row that counts, equal ignoring ASCII case), so
        two aggregate reads answer it instead of loading every tag row of the batch.
        """
        t = TABLES["tags"]
        span = {
            image_id: (low, high)
            for image_id, low, high in session.execute(
                select(t.c.image_id, func.min(t.c.position), func.max(t.c.position))
                .where(t.c.image_id.in_(image_ids))
                .group_by(t.c.image_id)
            )
        }
        present: dict[int, set[str]] = defaultdict(set)
        for image_id, tag in session.execute(
            select(t.c.image_id, t.c.tag).where(
                nocase(t.c.tag).in_([fold(tag) for tag in tags]), effective_tag(), t.c.image_id.in_(image_ids)
            )
        ):
            present[image_id].add(fold(tag))
        decisions = self._decisions(session, image_ids)
        now = utcnow()
        changes = []
        for image_id in image_ids:
            missing = [tag for tag in tags if fold(tag) not in present.get(image_id, ())]
            low, high = span.get(image_id, (0, -1))  # no rows yet: the first tag goes at 0
            start = low - len(missing) if position == "front" else high + 1
            for offset, tag in enumerate(missing):
                after = self._manual_tag(image_id, tag, start + offset, now)
                changes.append(RowChange("tags", "insert", image_id, None, after, f"+{tag}"))
                if (image_id, fold(tag)) in decisions:
                    lifted = self._decide(
                        decisions, image_id, tag, f"+{tag}", now, rejected_at=None, removed_at=None
                    )
                    changes.extend([lifted] if lifted else [])
        return changes

    @staticmethod
    def _manual_tag(image_id: int, tag: str, position: int, now: datetime) -> dict[str, Any]:
        return {
            "image_id": image_id,
            "model_id": None,
            "source": SOURCE_MANUAL,
            "tag": tag,
            "raw_tag": tag,
            "category": "general",
            "confidence": None,
            "is_accepted": True,
            "position": position,
            "is_edited_manually": True,
            "created_at": now,
            "updated_at": now,
        }

    def _unaccept(
        self, rows: list[dict[str, Any]], decisions: Mapping[tuple[int, str], dict[str, Any]], now: datetime
    ) -> list[RowChange]:
        """Remove tags: a manual row is deleted; a model's tag gets a removal decision, which no
        re-run of any model undoes."""
        changes = []
        decided: set[tuple[int, str]] = set()
        for row in rows:
            label = f"-{row['tag']}"
            if row["source"] == SOURCE_MANUAL:
                changes.append(RowChange("tags", "delete", row["image_id"], row, None, label, row["id"]))
                continue
            key = (row["image_id"], fold(row["tag"]))
            if key not in decided:
                decided.add(key)
                change = self._decide(decisions, row["image_id"], row["tag"], label, now, removed_at=now)
                changes.extend([change] if change else [])
        return changes

    def plan_remove_tags(
        self, session: Session, image_ids: list[int], patterns: list[str]
    ) -> list[RowChange]:
        matcher = tag_matcher(patterns)
        rows = [row for row in self._effective_rows(session, image_ids) if matcher.fullmatch(row["tag"])]
        return self._unaccept(rows, self._decisions(session, image_ids), utcnow())

    def plan_replace_tag(
        self, session: Session, image_ids: list[int], old: str, new: str, *, regex: bool
    ) -> list[RowChange]:
        """Each matching tag is removed and the replacement added at its position (once per image)."""
        pattern = re.compile(old, re.IGNORECASE) if regex else tag_matcher([old])
        by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in self._effective_rows(session, image_ids):
            by_image[row["image_id"]].append(row)
        decisions = self._decisions(session, image_ids)
        now = utcnow()
        changes: list[RowChange] = []
        for image_id in image_ids:
            rows = by_image.get(image_id, [])
            present = {row["tag"].casefold() for row in rows}
            added: set[str] = set()
            replaced_rows: list[dict[str, Any]] = []
            inserts: list[RowChange] = []
            for row in rows:
                if regex:
                    replaced = clean_tag(pattern.sub(new, row["tag"]))
                    if pattern.search(row["tag"]) is None or replaced == row["tag"]:
                        continue
                elif pattern.fullmatch(row["tag"]):
                    replaced = new
                else:
                    continue
                replaced_rows.append(row)
                key = replaced.casefold()
                if replaced and key not in present and key not in added:
                    added.add(key)
                    after = self._manual_tag(image_id, replaced, row["position"], now)
                    inserts.append(RowChange("tags", "insert", image_id, None, after, f"+{replaced}"))
                    if (image_id, fold(replaced)) in decisions:
                        lifted = self._decide(
                            decisions,
                            image_id,
                            replaced,
                            f"+{replaced}",
                            now,
                            rejected_at=None,
                            removed_at=None,
                        )
                        inserts.extend([lifted] if lifted else [])
            changes.extend(self._unaccept(replaced_rows, decisions, now))
            changes.extend(inserts)
        return changes

    def plan_reject_tags(
        self, session: Session, image_ids: list[int], patterns: list[str], *, restore: bool
    ) -> list[RowChange]:
        """Reject (soft: kept, left out of search and export) or restore the matching tags, as a
        decision on (image, tag) that every later model row of that tag inherits."""
        matcher = tag_matcher(patterns)
        decisions = self._decisions(session, image_ids)
        now = utcnow()
        verb = "restore" if restore else "reject"
        changes = []
        seen: set[tuple[int, str]] = set()
        for row in self._rows(session, "tags", image_ids):
            key = (row["image_id"], fold(row["tag"]))
            if (
                key in seen
                or not matcher.fullmatch(row["tag"])
                or (row["rejected_at"] is not None) != restore
            ):
                continue
            seen.add(key)
            change = self._decide(
                decisions,
                row["image_id"],
                row["tag"],
                f"{verb} {row['tag']}",
                now,
                rejected_at=None if restore else now,
            )
            changes.extend([change] if change else [])
        return changes

    def plan_reorder_tags(self, session: Session, image_id: int, ordered: list[str]) -> list[RowChange]:
        """Manual positions 0..n-1 follow `ordered` (a tag several models gave moves as one); tags
        not named lose any manual position and follow the ordered ones by the usual rule."""
        spelled = {fold(row["tag"]): row["tag"] for row in self._rows(session, "tags", [image_id])}
        unknown = [tag for tag in ordered if fold(tag) not in spelled]
        if unknown:
            raise ValidationError(f"image {image_id} has no tag {', '.join(unknown[:10])}")
        decisions = self._decisions(session, [image_id])
        rank = {fold(tag): index for index, tag in enumerate(ordered)}
        now = utcnow()
        changes = []
        for key, index in rank.items():
            change = self._decide(
                decisions, image_id, spelled[key], f"{spelled[key]} @{index}", now, position=index
            )
            changes.extend([change] if change else [])
        for (_image, key), row in decisions.items():
            if key not in rank and row["position"] is not None:
                change = self._decide(
                    decisions, image_id, row["tag"], f"{row['tag']} unordered", now, position=None
                )
                changes.extend([change] if change else [])
        return changes

    def plan_set_manual(
        self,
        session: Session,
        image_ids: list[int],
        table: str,
        values: dict[str, Any] | None,
        **match: Any,
    ) -> list[RowChange]:
        """Set (or with `values=None` clear) the one manual caption/score/rating row per image."""
        current = {
            row["image_id"]: row
            for row in self._rows(session, table, image_ids, source=SOURCE_MANUAL, **match)
        }
        now = utcnow()
        stamp = {"updated_at": now} if "updated_at" in TABLES[table].c else {}
        changes = []
        for image_id in image_ids:
            row = current.get(image_id)
            if values is None:
                if row is not None:
                    changes.append(
                        RowChange(table, "delete", image_id, row, None, f"clear {table}", row["id"])
                    )
                continue
            label = f"{table} = {next(iter(values.values()))}"
            if row is None:
                after = {
                    "image_id": image_id,
                    "model_id": None,
                    "source": SOURCE_MANUAL,
                    "is_edited_manually": True,
                    "created_at": now,
                    **stamp,
                    **match,
                    **values,
                }
                changes.append(RowChange(table, "insert", image_id, None, after, label))
            elif any(row[key] != value for key, value in values.items()):
                changes.append(
                    RowChange(table, "update", image_id, row, {**row, **values, **stamp}, label, row["id"])
                )
        return changes

    def plan_reviewed(self, session: Session, image_ids: list[int], reviewed: bool) -> list[RowChange]:
        now = utcnow()
        changes = []
        images = TABLES["images"]
        for row in session.execute(select(images).where(images.c.id.in_(image_ids))).mappings():
            data = dict(row)
            if (data["reviewed_at"] is not None) == reviewed:
                continue
            after = {**data, "reviewed_at": now if reviewed else None, "updated_at": now}
            label = "reviewed" if reviewed else "unreviewed"
            changes.append(RowChange("images", "update", data["id"], data, after, label, data["id"]))
        return changes

    def plan_export_rejection(
        self, session: Session, image_ids: list[int], rejected: bool, reason: str | None = None
    ) -> list[RowChange]:
        """Leave the images out of every export (a row each), or bring them back (rows deleted)."""
        now = utcnow()
        table = TABLES["export_rejections"]
        existing = {
            row["image_id"]: dict(row)
            for row in session.execute(select(table).where(table.c.image_id.in_(image_ids))).mappings()
        }
        changes = []
        for image_id in image_ids:
            row = existing.get(image_id)
            if rejected and row is None:
                after = {"image_id": image_id, "reason": reason, "rejected_at": now}
                label = f"rejected from export ({reason})" if reason else "rejected from export"
                changes.append(RowChange("export_rejections", "insert", image_id, None, after, label))
            elif not rejected and row is not None:
                changes.append(
                    RowChange("export_rejections", "delete", image_id, row, None, "back in export", row["id"])
                )
        return changes

    def plan_crop(
        self,
        session: Session,
        image_ids: list[int],
        box_for: Callable[[int, int], tuple[int, int, int, int] | None],
    ) -> list[RowChange]:
        """Set (or, where `box_for` gives None, clear) each image's crop; `box_for(width, height)`
        gives (x, y, w, h) in upright pixels."""
        now = utcnow()
        crops = TABLES["image_crops"]
        existing = {
            row["image_id"]: dict(row)
            for row in session.execute(select(crops).where(crops.c.image_id.in_(image_ids))).mappings()
        }
        sizes = session.execute(select(Image.id, Image.width, Image.height).where(Image.id.in_(image_ids)))
        changes = []
        for image_id, width, height in sizes:
            box = box_for(width, height)
            row = existing.get(image_id)
            if box is None:
                if row is not None:
                    changes.append(
                        RowChange("image_crops", "delete", image_id, row, None, "crop cleared", row["id"])
                    )
                continue
            values = dict(zip(("x", "y", "width", "height"), box, strict=True))
            label = "crop {},{},{},{}".format(*box)
            if row is None:
                after = {"image_id": image_id, **values, "updated_at": now}
                changes.append(RowChange("image_crops", "insert", image_id, None, after, label))
            elif any(row[key] != value for key, value in values.items()):
                changes.append(
                    RowChange(
                        "image_crops",
                        "update",
                        image_id,
                        row,
                        {**row, **values, "updated_at": now},
                        label,
                        row["id"],
                    )
                )
        return changes

    def plan_remove_images(
        self, session: Session, image_ids: list[int], seen: set[tuple[str, int]]
    ) -> list[RowChange]:
        """Delete the images and every row referring to them, children first. `seen` carries the
        rows already planned by an earlier batch (a similarity links two removed images)."""
        changes = []
        for name in (*REMOVED_WITH_IMAGE, "images"):
            t = TABLES[name]
            where: ColumnElement[bool]
            if name == "images":
                where = t.c.id.in_(image_ids)
            elif name == "image_similarities":
                where = or_(t.c.image_id.in_(image_ids), t.c.similar_to_id.in_(image_ids))
            else:
                where = t.c.image_id.in_(image_ids)
            order = list(t.primary_key.columns)
            for mapping in session.execute(select(t).where(where).order_by(*order)).mappings():
                row = dict(mapping)
                image_id = row["id"] if name == "images" else row["image_id"]
                row_id = row["id"] if "id" in row else row["image_id"]
                if (name, row_id) in seen:
                    continue
                seen.add((name, row_id))
                if name == "images":
                    label = f"remove {row['name']}"
                elif name == "image_similarities" and row["image_id"] not in image_ids:
                    image_id = row["similar_to_id"]
                    label = name
                else:
                    label = name
                changes.append(RowChange(name, "delete", image_id, row, None, label, row_id))
        return changes

    @staticmethod
    def live_removals(session: Session, edit_ids: list[int]) -> set[int]:
        """Which of these edits are committed removals not undone (their files belong in the trash)."""
        return set(
            session.scalars(
                select(EditLog.id).where(
                    EditLog.id.in_(edit_ids),
                    EditLog.operation == "remove_images",
                    EditLog.undone_at.is_(None),
                )
            )
        )

    @staticmethod
    def paths_in_use(session: Session, stored: list[str]) -> set[str]:
        """Which of these stored paths an image in the project uses (one registered again)."""
        used: set[str] = set()
        processed = Base.metadata.tables["processed_images"]
        for chunk in (stored[i : i + BATCH] for i in range(0, len(stored), BATCH)):
            for column in (Image.stored_path, Image.thumbnail_path, processed.c.path):
                used.update(p for p in session.scalars(select(column).where(column.in_(chunk))) if p)
        return used

    @staticmethod
    def removed_images(session: Session, edit_id: int) -> list[dict[str, Any]]:
        """The image rows a removal deleted, from its snapshots."""
        rows = session.scalars(
            select(EditChange.before).where(EditChange.edit_id == edit_id, EditChange.table_name == "images")
        )
        return [json.loads(before) for before in rows if before]

    @staticmethod
    def restore_conflicts(session: Session, images: list[dict[str, Any]]) -> list[str]:
        """Why these removed images cannot come back: an image registered since holds the id, the
        content (SHA-256) or the stored path of one of them."""
        problems = []
        for chunk in (images[i : i + BATCH] for i in range(0, len(images), BATCH)):
            by_sha = {row["sha256"]: row for row in chunk}
            by_path = {row["stored_path"]: row for row in chunk}
            by_id = {row["id"]: row for row in chunk}
            for image in session.scalars(
                select(Image).where(
                    or_(
                        Image.id.in_(by_id),
                        Image.sha256.in_(by_sha),
                        Image.stored_path.in_(by_path),
                    )
                )
            ):
                removed = by_sha.get(image.sha256) or by_path.get(image.stored_path) or by_id[image.id]
                what = "the same file" if image.sha256 == removed["sha256"] else "its id"
                problems.append(
                    f"image #{removed['id']} ({removed['name']}): {what} is in the project again as "
                    f"image #{image.id} ({image.name})"
                )
        return problems

    # -- writing -------------------------------------------------------------------------------

    @staticmethod
    def start_edit(
        session: Session, operation: str, description: str, query: str | None, parameters: str
    ) -> int:
        entry = EditLog(operation=operation, description=description, query=query, parameters=parameters)
        session.add(entry)
        session.flush()
        return entry.id

    @staticmethod
    def finish_edit(session: Session, edit_id: int, affected_images: int) -> None:
        if affected_images:
            session.execute(
                update(EditLog).where(EditLog.id == edit_id).values(affected_images=affected_images)
            )
            bump_changes(session)  # last: open views elsewhere refresh once this commits
        else:
            session.execute(delete(EditLog).where(EditLog.id == edit_id))

    def apply(self, session: Session, edit_id: int, changes: list[RowChange]) -> None:
        """Write planned changes (new rows get ids here) and record them in `edit_changes`."""
        next_ids: dict[str, int] = {}
        for change in changes:
            if change.action == "insert":
                if change.table not in next_ids:
                    t = TABLES[change.table]
                    next_ids[change.table] = (session.scalar(select(func.max(t.c.id))) or 0) + 1
                change.row = next_ids[change.table]
                next_ids[change.table] += 1
                assert change.after is not None
                change.after = {"id": change.row, **change.after}
        self._write(session, [(c.table, c.action, c.before, c.after) for c in changes], forward=True)
        log_rows = [
            {
                "edit_id": edit_id,
                "table_name": c.table,
                "row_id": c.row,
                "action": c.action,
                "before": json.dumps(_jsonable(c.before)) if c.before is not None else None,
                "after": json.dumps(_jsonable(c.after)) if c.after is not None else None,
            }
            for c in changes
        ]
        if log_rows:
            # Core executemany on the session's connection: the ORM bulk path costs ~3x per row.
            session.connection().execute(insert(Base.metadata.tables["edit_changes"]), log_rows)

    @staticmethod
    def _write(
        session: Session,
        changes: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]],
        *,
        forward: bool,
    ) -> None:
        """Replay snapshots: forward writes `after` (apply/redo), backward writes `before` (undo)."""
        inserts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        deletes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        updates: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        for table, action, before, after in changes:
            t = TABLES[table]
            if action == "update":
                assert before is not None and after is not None
                source, target = (before, after) if forward else (after, before)
                target = _from_json(t, target)
                source = _from_json(t, source)
                keys = {column.name for column in t.primary_key.columns}
                columns = tuple(sorted(k for k in target if k not in keys and target[k] != source.get(k)))
                if columns:
                    updates[(table, columns)].append(
                        {**_key(t, target), **{f"v_{k}": target[k] for k in columns}}
                    )
                continue
            creating = (action == "insert") == forward
            snapshot = after if action == "insert" else before
            assert snapshot is not None
            if creating:
                inserts[table].append(_from_json(t, snapshot))
            else:
                deletes[table].append(_key(t, snapshot))
        # parents are created before, and deleted after, the rows that refer to them
        for table, rows in sorted(deletes.items(), key=lambda item: -_RANK[item[0]]):
            t = TABLES[table]
            session.execute(delete(t).where(_by_key(t)), rows)
        for (table, columns), rows in updates.items():
            t = TABLES[table]
            statement = update(t).where(_by_key(t)).values({k: bindparam(f"v_{k}") for k in columns})
            session.execute(statement, rows)
        connection = session.connection()
        for table, rows in sorted(inserts.items(), key=lambda item: _RANK[item[0]]):
            connection.execute(insert(TABLES[table]), rows)
        sync_id_sequences(connection, [TABLES[table] for table in inserts])

    # -- the log -------------------------------------------------------------------------------

    @staticmethod
    def undo_candidate(session: Session) -> EditLog | None:
        """The newest edit not yet undone."""
        return session.scalars(
            select(EditLog).where(EditLog.undone_at.is_(None)).order_by(EditLog.id.desc()).limit(1)
        ).first()

    @staticmethod
    def redo_candidate(session: Session) -> EditLog | None:
        """The oldest undone edit newer than every live edit: a new edit ends the redo chain."""
        newest_live = session.scalar(select(func.max(EditLog.id)).where(EditLog.undone_at.is_(None))) or 0
        return session.scalars(
            select(EditLog)
            .where(EditLog.undone_at.is_not(None), EditLog.id > newest_live)
            .order_by(EditLog.id)
            .limit(1)
        ).first()

    def replay(self, session: Session, edit_id: int, *, forward: bool) -> int:
        """Undo (`forward=False`) or redo an edit from its recorded snapshots; returns rows written."""
        written = 0
        last = 0 if forward else None
        while True:
            statement = select(EditChange).where(EditChange.edit_id == edit_id)
            if forward:
                statement = statement.where(EditChange.id > (last or 0)).order_by(EditChange.id)
            else:
                if last is not None:
                    statement = statement.where(EditChange.id < last)
                statement = statement.order_by(EditChange.id.desc())
            rows = list(session.scalars(statement.limit(5000)))
            if not rows:
                return written
            changes = [
                (
                    row.table_name,
                    row.action,
                    json.loads(row.before) if row.before else None,
                    json.loads(row.after) if row.after else None,
                )
                for row in rows
            ]
            try:
                self._make_room(session, edit_id, changes, forward=forward)
                self._write(session, changes, forward=forward)
            except IntegrityError as exc:
                raise DatabaseError(
                    f"edit #{edit_id} cannot be {'redone' if forward else 'undone'}: a row it puts "
                    f"back collides with one written since ({exc.orig}); nothing was changed"
                ) from exc
            written += len(rows)
            last = rows[-1].id

    @staticmethod
    def _make_room(
        session: Session,
        edit_id: int,
        changes: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]],
        *,
        forward: bool,
    ) -> None:
        """Give a new id to each row written since the edit (annotation, registration: writers
        the log does not record) that holds the id of a row this replay puts back. SQLite hands
        out max(id) + 1, so deleting the top rows frees their ids for the next insert.

        Only rows no later edit refers to are moved (delete and insert, so the triggers keep
        derived columns, the vocabulary and the caption index right); images never are (their
        children would follow). What cannot be moved stays, and the replay refuses."""
        wanted: dict[str, list[int]] = defaultdict(list)
        for table, action, before, after in changes:
            snapshot = after if action == "insert" else before
            creating = action != "update" and (action == "insert") == forward
            if creating and table != "images" and snapshot and "id" in snapshot:
                wanted[table].append(snapshot["id"])
        for table, ids in wanted.items():
            t = TABLES[table]
            taken = [dict(row) for row in session.execute(select(t).where(t.c.id.in_(ids))).mappings()]
            if not taken:
                continue
            referenced = set(
                session.scalars(
                    select(EditChange.row_id).where(
                        EditChange.table_name == table,
                        EditChange.edit_id > edit_id,
                        EditChange.row_id.in_([row["id"] for row in taken]),
                    )
                )
            )
            movable = [row for row in taken if row["id"] not in referenced]
            if not movable:
                continue
            restored = select(func.max(EditChange.row_id)).where(
                EditChange.edit_id == edit_id, EditChange.table_name == table
            )
            top = max(session.scalar(select(func.max(t.c.id))) or 0, session.scalar(restored) or 0)
            session.execute(delete(t).where(t.c.id.in_([row["id"] for row in movable])))
            moved = [{**row, "id": top + 1 + n} for n, row in enumerate(movable)]
            session.connection().execute(insert(t), moved)
            sync_id_sequences(session.connection(), [t])

    @staticmethod
    def mark(session: Session, edit_id: int, undone: bool) -> None:
        session.execute(
            update(EditLog).where(EditLog.id == edit_id).values(undone_at=utcnow() if undone else None)
        )
        bump_changes(session)

    @staticmethod
    def entries(session: Session, limit: int) -> list[EditLog]:
        return list(session.scalars(select(EditLog).order_by(EditLog.id.desc()).limit(limit)))
