from __future__ import annotations

from genai_tag_db_tools.db.builder import TagRecord, TranslationRecord
from genai_tag_db_tools.db.database import TagDatabase
from genai_tag_db_tools.importers import import_records


def test_prefix_ranked_by_usage_count_with_preferred_tag(danbooru_db: TagDatabase) -> None:
    found = danbooru_db.search("l")
    assert [s.tag for s in found] == ["long hair", "long sleeves"]
    assert (found[0].type, found[0].usage_count) == ("general", 3_000_000)
    alias_hit = danbooru_db.search("kanc")[0]
    assert (alias_hit.tag, alias_hit.matched, alias_hit.kind, alias_hit.type) == (
        "kantai collection",
        "kancolle",
        "alias",
        "copyright",
    )


def test_word_starts_and_substrings(danbooru_db: TagDatabase) -> None:
    assert [s.tag for s in danbooru_db.search("hair")] == ["long hair", "grey hair"]
    assert danbooru_db.search("leev") == []
    assert [s.tag for s in danbooru_db.search("leev", substring=True)] == ["long sleeves"]


def test_translations_and_overlay_are_searchable(danbooru_db: TagDatabase) -> None:
    danbooru_db.add_alias("ginpatsu", "grey hair")
    danbooru_db.add_translation("hatsune miku", "ja", "初音ミク")
    danbooru_db.add_user_tag("my character", "character")
    assert [(s.tag, s.kind) for s in danbooru_db.search("ginp")] == [("grey hair", "user_alias")]
    assert [(s.tag, s.type) for s in danbooru_db.search("初音")] == [("hatsune miku", "character")]
    assert [(s.tag, s.type) for s in danbooru_db.search("my ch")] == [("my character", "character")]


def test_short_prefix_ranking_matches_live_ranking(tag_db: TagDatabase) -> None:
    records: list[TagRecord | TranslationRecord] = [
        TagRecord(f"s{i:03d}", usage_count=(i * 7919) % 1000) for i in range(300)
    ]
    import_records(tag_db, records, source="generated")
    top = [s.tag for s in tag_db.search("s", limit=10)]
    live = [s.tag for s in tag_db.search("s0", limit=300)] + [s.tag for s in tag_db.search("s1", limit=300)]
    live += [s.tag for s in tag_db.search("s2", limit=300)]
    expected = sorted(live, key=lambda t: -((int(t[1:]) * 7919) % 1000))[:10]
    assert top == expected
    assert [s.tag for s in tag_db.search("s", limit=10, format="e621")] == []
