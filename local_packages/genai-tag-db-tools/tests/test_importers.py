from __future__ import annotations

from pathlib import Path

import pytest

from genai_tag_db_tools.db.database import TagDatabase, TagDatabaseError
from genai_tag_db_tools.importers import detect_format, import_records, read_file


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


def test_tagcomplete_skips_malformed_lines(tag_db: TagDatabase, tagcomplete_csv: Path) -> None:
    report = import_records(tag_db, read_file(tagcomplete_csv, "tagcomplete"), source="x")
    assert statuses(tag_db, ["broken line without numbers"])["broken line without numbers"][2] == "unknown"
    assert report.rows_read == 16  # 8 good lines + 8 aliases
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

    import_records(danbooru_db, read_file(wd_csv, "wd-csv"), source="wd")  # replaces the base wholesale
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
