from __future__ import annotations

from pathlib import Path

import pytest

from genai_tag_db_tools.db.builder import TagRecord
from genai_tag_db_tools.db.database import TagDatabase, TagDatabaseError
from genai_tag_db_tools.importers import (
    ImportRefused,
    UnreadableSourceError,
    detect_format,
    import_records,
    read_file,
)


def statuses(
    db: TagDatabase, tags: list[str], format: str = "danbooru"
) -> dict[str, tuple[str, str | None, str]]:
    return {t.input: (t.tag, t.type, t.status) for t in db.normalize(tags, format=format).tags}


def test_tagcomplete_import(danbooru_db: TagDatabase) -> None:
    found = statuses(danbooru_db, ["longhair", "Gray Hair", "miku", "kancolle", "absurdres", "^_^", "/lh"])
    assert found == {
        "longhair": ("long hair", "general", "alias"),
        "Gray Hair": ("grey hair", "general", "alias"),
        "miku": ("hatsune miku", "character", "alias"),
        "kancolle": ("kantai collection", "copyright", "alias"),
        "absurdres": ("absurdres", "meta", "known"),
        "^_^": ("^_^", "general", "known"),
        "/lh": ("long hair", "general", "alias"),
    }
    stats = danbooru_db.stats()
    assert stats["aliases"] == 7  # "gray_hair" and "Gray Hair" are one key
    assert danbooru_db.metadata()["source"] == "danbooru.csv"


def test_tagcomplete_skips_malformed_lines_when_forced(
    tag_db: TagDatabase, broken_tagcomplete_csv: Path
) -> None:
    source = broken_tagcomplete_csv
    with pytest.raises(ImportRefused, match="1 of 9 lines are malformed"):
        import_records(tag_db, read_file(source, "tagcomplete"), source="x")
    assert not tag_db.has_base()
    report = import_records(tag_db, read_file(source, "tagcomplete"), source="x", force=True)
    assert statuses(tag_db, ["broken line without numbers"])["broken line without numbers"][2] == "unknown"
    assert (report.rows_read, report.lines, report.malformed) == (17, 9, 1)  # 8 lines + 8 aliases + 1
    assert report.tags == 15  # "gray_hair" and "Gray Hair" share a key


def test_wd_selected_tags_import(tag_db: TagDatabase, wd_csv: Path) -> None:
    assert detect_format(wd_csv) == "wd-csv"
    report = import_records(tag_db, read_file(wd_csv, "wd-csv"), source="wd")
    assert report.tags == 5  # the two rating rows are not vocabulary
    found = statuses(tag_db, ["Hatsune_Miku", "solo", "sensitive", "o_o"])
    assert found["Hatsune_Miku"] == ("hatsune miku", "character", "known")
    assert found["solo"] == ("solo", "general", "known")
    assert found["sensitive"][2] == "unknown"
    assert found["o_o"][0] == "o_o"


def test_genai_sqlite_import(tag_db: TagDatabase, genai_sqlite: Path) -> None:
    assert detect_format(genai_sqlite) == "sqlite"
    report = import_records(tag_db, read_file(genai_sqlite, "sqlite"), source="genai")
    assert report.formats == ["danbooru", "e621"]
    found = statuses(tag_db, ["witches_hat", "old_style_tag", "obsolete tag", "cat", "pony only"])
    assert found["witches_hat"] == ("witch hat", "general", "alias")
    assert found["old_style_tag"] == ("new style tag", "general", "deprecated")
    assert found["obsolete tag"] == ("obsolete tag", "meta", "known")
    assert tag_db.normalize(["obsolete tag"]).tags[0].deprecated
    assert found["cat"] == ("cat", "general", "known")
    assert found["pony only"][2] == "unknown"  # derpibooru is not imported
    assert statuses(tag_db, ["felis", "cat"], format="e621") == {
        "felis": ("cat", "general", "alias"),
        "cat": ("cat", "general", "known"),
    }
    assert [s.tag for s in tag_db.search("魔女")] == ["witch hat"]


def test_not_a_genai_file_is_a_clear_error(tag_db: TagDatabase, tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    TagDatabase(tmp_path / "elsewhere").close()
    (tmp_path / "elsewhere" / "base.sqlite").rename(other)
    with pytest.raises(TagDatabaseError, match="not a genai-image-tag-db file"):
        import_records(tag_db, read_file(other, "sqlite"), source="other")
    assert not tag_db.has_base()


def test_user_overlay_survives_base_reimport(
    danbooru_db: TagDatabase, tagcomplete_csv: Path, wd_csv: Path
) -> None:
    danbooru_db.add_alias("silver hair", "grey_hair")
    danbooru_db.add_user_tag("my_oc", "character")
    danbooru_db.add_translation("long hair", "fr", "cheveux longs")
    before = statuses(danbooru_db, ["silver_hair", "my oc"])
    assert before == {
        "silver_hair": ("grey hair", "general", "user_alias"),
        "my oc": ("my oc", "character", "known"),
    }

    with pytest.raises(ImportRefused, match="under half"):
        import_records(danbooru_db, read_file(wd_csv, "wd-csv"), source="wd")
    assert statuses(danbooru_db, ["longhair"])["longhair"][2] == "alias"  # the refused file changed nothing
    import_records(danbooru_db, read_file(wd_csv, "wd-csv"), source="wd", force=True)  # replaces wholesale
    assert statuses(danbooru_db, ["longhair"])["longhair"][2] == "unknown"  # old base aliases are gone
    after = statuses(danbooru_db, ["silver_hair", "my oc"])
    assert after["silver_hair"][:1] == ("grey hair",)
    assert after["my oc"] == ("my oc", "character", "known")
    assert [s.tag for s in danbooru_db.search("cheveux")] == ["long hair"]

    danbooru_db.restore_previous_base()
    assert statuses(danbooru_db, ["longhair"])["longhair"] == ("long hair", "general", "alias")


def test_append_keeps_existing_base(danbooru_db: TagDatabase, wd_csv: Path) -> None:
    import_records(danbooru_db, read_file(wd_csv, "wd-csv"), source="wd", replace=False)
    found = statuses(danbooru_db, ["longhair", "solo"])
    assert found["longhair"][0] == "long hair"
    assert found["solo"][2] == "known"


def test_alias_cycles_rejected(danbooru_db: TagDatabase) -> None:
    danbooru_db.add_alias("a tag", "b tag")
    with pytest.raises(TagDatabaseError, match="cycle"):
        danbooru_db.add_alias("b tag", "a_tag")


def test_alias_listed_under_two_tags_goes_to_the_better_evidenced_one(
    tag_db: TagDatabase, tmp_path: Path
) -> None:
    """Rows as in the a1111 tagcomplete danbooru.csv, sorted by post count like the real file."""
    source = tmp_path / "danbooru.csv"
    source.write_text(
        "\n".join(
            [
                'thighhighs,0,1170000,"thigh_highs,thighhigh,thigh-highs"',
                'pointy_ears,0,540000,"elf_ears,pointed_ears"',
                'tail,0,520000,"tails"',
                'elf,0,190000,"elf_ears,elves"',
                'single_thighhigh,0,57000,"thighhigh,one_thighhigh"',
                'multiple_tails,0,30000,"tails,many_tails"',
            ]
        ),
        encoding="utf-8",
    )
    import_records(tag_db, read_file(source, "tagcomplete"), source="danbooru.csv")
    found = statuses(tag_db, ["thighhigh", "tails", "elf_ears", "one_thighhigh", "elves"])
    assert {k: v[0] for k, v in found.items()} == {
        "thighhigh": "thighhighs",
        "tails": "tail",
        "elf_ears": "pointy ears",
        "one_thighhigh": "single thighhigh",
        "elves": "elf",
    }
    conflicts = {c["alias"]: c for c in tag_db.alias_conflicts("danbooru")}
    assert set(conflicts) == {"thighhigh", "tails", "elf ears"}
    assert [(c["target"], c["chosen"]) for c in conflicts["thighhigh"]["candidates"]] == [
        ("thighhighs", True),
        ("single thighhigh", False),
    ]
    tag_db.add_alias("elf_ears", "elf")  # the user overlay pins the other candidate
    assert statuses(tag_db, ["elf_ears"])["elf_ears"][0] == "elf"
    assert {c["alias"]: c["pinned"] for c in tag_db.alias_conflicts()}["elf ears"] == "elf"


def test_deprecated_target_loses_a_tie(tag_db: TagDatabase) -> None:
    records = [
        TagRecord("new_name", usage_count=100),
        TagRecord("old_name", usage_count=100, deprecated=True),
        TagRecord("nick", preferred="new_name"),
        TagRecord("nick", preferred="old_name"),
    ]
    import_records(tag_db, records, source="generated")
    assert statuses(tag_db, ["nick"])["nick"][0] == "new name"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "binary file"),
        ("1girl,0,5000000,\ncaf\u00e9,0,10,\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_input_is_a_clear_error(
    danbooru_db: TagDatabase, tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "tags.csv"
    source.write_bytes(content)
    before = danbooru_db.base_path.read_bytes()
    with pytest.raises(UnreadableSourceError, match=message):
        import_records(danbooru_db, read_file(source, "tagcomplete"), source="x")
    assert danbooru_db.base_path.read_bytes() == before
    assert not list(danbooru_db.directory.glob("*.building"))


def test_empty_import_is_refused_even_forced(danbooru_db: TagDatabase, tmp_path: Path) -> None:
    source = tmp_path / "empty.csv"
    source.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ImportRefused, match="holds no tags"):
        import_records(danbooru_db, read_file(source, "tagcomplete"), source="empty", force=True)
    assert statuses(danbooru_db, ["longhair"])["longhair"][2] == "alias"
