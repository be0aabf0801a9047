"""PostgreSQL: the insert and delete triggers on tags, ratings and scores fire once per statement.

A worker stores a batch of 32 images as one INSERT of ~160 tag rows and one of 32 ratings. As row
triggers (0004, 0005, 0007) each of those rows ran its own trigger statements: a vocabulary
upsert and a decision lookup per tag, a recompute UPDATE per rating, which rewrote the rating row
it had just inserted. As statement triggers with transition tables (`REFERENCING NEW TABLE`)
each runs once per INSERT or DELETE over all its rows; the recomputes only rewrite rows whose
flag actually changes. The end state is the one the row triggers left, since an AFTER row
trigger also ran only once its statement had written every row.

UPDATE triggers stay row triggers (PostgreSQL allows no transition table on `UPDATE OF column`);
edits change few rows at a time. SQLite has row triggers only and keeps its own: nothing to do.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

# ruff: noqa: S608 - the SQL is assembled from this module's own constant fragments
from __future__ import annotations

from alembic import op

from lorairo.database.dialect import drop_plpgsql_trigger, plpgsql_statement_trigger, plpgsql_trigger

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_NEW, _OLD = "NEW TABLE AS new_rows", "OLD TABLE AS old_rows"
# lorairo_fold = dialect.FOLD_FUNCTION, SQLite's NOCASE on PostgreSQL.
_RATING_WINNER = (
    "(id = (SELECT m.id FROM ratings AS m WHERE m.image_id = ratings.image_id "
    "ORDER BY m.source = 'manual' DESC, m.id DESC LIMIT 1))"
)
_SCORE_WINNER = (
    "(id = (SELECT m.id FROM scores AS m WHERE m.image_id = scores.image_id AND m.kind = scores.kind "
    "ORDER BY m.source = 'manual' DESC, m.id DESC LIMIT 1))"
)
_RATINGS_RECOMPUTE = "UPDATE ratings SET is_effective = " + _RATING_WINNER
_SCORES_RECOMPUTE = "UPDATE scores SET is_effective = " + _SCORE_WINNER


def _ratings(rows: str) -> str:
    """Only the rows whose flag changes are rewritten."""
    return (
        _RATINGS_RECOMPUTE
        + " WHERE image_id IN (SELECT image_id FROM "
        + rows
        + ") AND is_effective IS DISTINCT FROM "
        + _RATING_WINNER
    )


def _scores(rows: str) -> str:
    return (
        _SCORES_RECOMPUTE
        + " WHERE (image_id, kind) IN (SELECT image_id, kind FROM "
        + rows
        + ") AND is_effective IS DISTINCT FROM "
        + _SCORE_WINNER
    )


# (name, event, table, transition table, body)
_STATEMENT_TRIGGERS = (
    (
        # the first spelling (lowest id) of each folded tag, as the row trigger kept it
        "tag_vocabulary_insert",
        "AFTER INSERT",
        "tags",
        _NEW,
        "INSERT INTO tag_vocabulary (tag) SELECT DISTINCT ON (lorairo_fold(tag)) tag FROM new_rows "
        "ORDER BY lorairo_fold(tag), id ON CONFLICT DO NOTHING",
    ),
    (
        "tag_vocabulary_delete",
        "AFTER DELETE",
        "tags",
        _OLD,
        "DELETE FROM tag_vocabulary AS v "
        "USING (SELECT DISTINCT lorairo_fold(tag) AS folded FROM old_rows) AS o "
        "WHERE lorairo_fold(v.tag) = o.folded "
        "AND NOT EXISTS (SELECT 1 FROM tags WHERE lorairo_fold(tags.tag) = o.folded)",
    ),
    (
        # a new tag row takes the decision already made for its (image, tag)
        "tags_decision_insert",
        "AFTER INSERT",
        "tags",
        _NEW,
        "UPDATE tags SET rejected_at = d.rejected_at, removed_at = d.removed_at "
        "FROM new_rows AS n JOIN tag_decisions AS d "
        "ON d.image_id = n.image_id AND lorairo_fold(d.tag) = lorairo_fold(n.tag) "
        "WHERE tags.id = n.id",
    ),
    ("ratings_effective_insert", "AFTER INSERT", "ratings", _NEW, _ratings("new_rows")),
    ("ratings_effective_delete", "AFTER DELETE", "ratings", _OLD, _ratings("old_rows")),
    ("scores_effective_insert", "AFTER INSERT", "scores", _NEW, _scores("new_rows")),
    ("scores_effective_delete", "AFTER DELETE", "scores", _OLD, _scores("old_rows")),
)

# The row triggers of 0004, 0005 and 0007 as they were, for the downgrade.
_DECISION_OF_NEW = "WHERE d.image_id = new.image_id AND lorairo_fold(d.tag) = lorairo_fold(new.tag)"
_ROW_TRIGGERS = (
    (
        "tag_vocabulary_insert",
        "AFTER INSERT",
        "tags",
        "INSERT INTO tag_vocabulary (tag) VALUES (new.tag) ON CONFLICT DO NOTHING",
    ),
    (
        "tag_vocabulary_delete",
        "AFTER DELETE",
        "tags",
        "DELETE FROM tag_vocabulary WHERE lorairo_fold(tag) = lorairo_fold(old.tag) "
        "AND NOT EXISTS (SELECT 1 FROM tags WHERE lorairo_fold(tags.tag) = lorairo_fold(old.tag))",
    ),
    (
        "tags_decision_insert",
        "AFTER INSERT",
        "tags",
        "IF EXISTS (SELECT 1 FROM tag_decisions AS d "
        + _DECISION_OF_NEW
        + ") THEN UPDATE tags SET rejected_at = (SELECT d.rejected_at FROM tag_decisions AS d "
        + _DECISION_OF_NEW
        + "), removed_at = (SELECT d.removed_at FROM tag_decisions AS d "
        + _DECISION_OF_NEW
        + ") WHERE id = new.id; END IF",
    ),
    (
        "ratings_effective_insert",
        "AFTER INSERT",
        "ratings",
        _RATINGS_RECOMPUTE + " WHERE image_id = new.image_id",
    ),
    (
        "ratings_effective_delete",
        "AFTER DELETE",
        "ratings",
        _RATINGS_RECOMPUTE + " WHERE image_id = old.image_id",
    ),
    (
        "scores_effective_insert",
        "AFTER INSERT",
        "scores",
        _SCORES_RECOMPUTE + " WHERE image_id = new.image_id AND kind = new.kind",
    ),
    (
        "scores_effective_delete",
        "AFTER DELETE",
        "scores",
        _SCORES_RECOMPUTE + " WHERE image_id = old.image_id AND kind = old.kind",
    ),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, event, table, rows, body in _STATEMENT_TRIGGERS:
        for statement in (
            *drop_plpgsql_trigger(name, table),
            *plpgsql_statement_trigger(name, event, table, rows, body),
        ):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, event, table, body in _ROW_TRIGGERS:
        for statement in (*drop_plpgsql_trigger(name, table), *plpgsql_trigger(name, event, table, body)):
            op.execute(statement)
