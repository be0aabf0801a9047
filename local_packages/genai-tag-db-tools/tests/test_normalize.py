from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event

from genai_tag_db_tools.db.builder import TagRecord
from genai_tag_db_tools.db.database import TagDatabase
from genai_tag_db_tools.importers import import_records


@contextmanager
def count_selects(db: TagDatabase) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_bulk_normalisation_issues_one_query_per_batch(tag_db: TagDatabase) -> None:
    records = [TagRecord(f"tag_{i}", usage_count=i) for i in range(3_000)]
    records += [TagRecord(f"alias_{i}", preferred=f"tag_{i}") for i in range(3_000)]
    import_records(tag_db, records, source="generated")
    batch = [f"Alias_{i}" for i in range(3_000)] + [f"tag {i}" for i in range(3_000)] + ["never seen"]

    with count_selects(tag_db) as statements:
        result = tag_db.normalize(batch)
    assert len(statements) == 1
    assert [t.tag for t in result.tags[:2]] == ["tag 0", "tag 1"]
    assert result.tags[2999].status == "alias"
    assert result.unknown == ["never seen"]

    with count_selects(tag_db) as statements:
        again = tag_db.normalize([*batch[:10], "another new one"])
    assert len(statements) == 1  # only the unseen tag is looked up
    assert again.unknown == ["another new one"]

    with count_selects(tag_db) as statements:
        tag_db.normalize(batch[:100])
    assert statements == []


def test_unknown_tags_pass_through_cleaned_and_reported(danbooru_db: TagDatabase) -> None:
    result = danbooru_db.normalize(["longhair", "My_Own_Tag", "<lora:style_v1:0.7>", "my own tag", ""])
    assert [t.tag for t in result.tags] == [
        "long hair",
        "My Own Tag",
        "<lora:style_v1:0.7>",
        "my own tag",
        "",
    ]
    assert [t.status for t in result.tags] == ["alias", "unknown", "passthrough", "unknown", "passthrough"]
    assert result.unknown == ["My Own Tag", "my own tag"]


def test_case_folded_lookup_restores_db_spelling(danbooru_db: TagDatabase) -> None:
    assert [t.tag for t in danbooru_db.normalize(["HATSUNE_MIKU", "Long Hair", " ^_^ "]).tags] == [
        "hatsune miku",
        "long hair",
        "^_^",
    ]


def test_overlay_edit_invalidates_the_cache(danbooru_db: TagDatabase) -> None:
    assert danbooru_db.normalize(["lh"]).tags[0].status == "unknown"
    danbooru_db.add_alias("lh", "long_hair")
    assert danbooru_db.normalize(["lh"]).tags[0].tag == "long hair"
    assert danbooru_db.remove_alias("LH")
    assert danbooru_db.normalize(["lh"]).tags[0].status == "unknown"


def test_user_alias_to_a_base_alias_follows_it(danbooru_db: TagDatabase) -> None:
    danbooru_db.add_alias("ロングヘア", "longhair")
    hit = danbooru_db.normalize(["ロングヘア"]).tags[0]
    assert (hit.tag, hit.type, hit.status) == ("long hair", "general", "user_alias")


def test_alias_chains_are_flattened_at_import(tmp_path: Path) -> None:
    db = TagDatabase(tmp_path / "chain")
    import_records(
        db,
        [TagRecord("c", usage_count=5), TagRecord("b", preferred="c"), TagRecord("a", preferred="b")],
        source="chain",
    )
    assert [t.tag for t in db.normalize(["a", "b", "c"]).tags] == ["c", "c", "c"]
    db.close()
