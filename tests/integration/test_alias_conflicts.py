"""Aliases the a1111 tagcomplete danbooru.csv lists under two tags resolve to the better-evidenced
tag through the CLI; `tags db info --conflicts` shows the choice and a user alias pins another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorairo.cli.main import main

# Rows as the real file has them (post counts of late 2025, file sorted by count): each of
# thighhigh, tails and elf_ears is an alias of two tags, the less-used one listed last.
DANBOORU_ROWS = [
    'thighhighs,0,1170432,"thigh_highs,thighhigh,thigh-highs,thigh_high"',
    'pointy_ears,0,547210,"elf_ears,pointed_ears,elfin_ears"',
    'tail,0,523871,"tails"',
    'elf,0,190233,"elf_ears,elves,elfs"',
    'single_thighhigh,0,57018,"thighhigh,one_thighhigh"',
    'multiple_tails,0,31556,"tails,many_tails"',
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    main(["--json", *args])
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_alias_conflicts_resolve_by_post_count_and_can_be_pinned(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "danbooru.csv"
    source.write_text("\n".join(DANBOORU_ROWS) + "\n", encoding="utf-8")
    report = run(capsys, "tags", "db", "import", str(source))
    assert report["conflicts"] == 3

    normalized = run(capsys, "tags", "normalize", "thighhigh, tails, elf_ears")
    assert normalized["normalized"] == "thighhighs, tail, pointy ears"

    info = run(capsys, "tags", "db", "info", "--conflicts")
    chosen = {
        c["alias"]: [x["target"] for x in c["candidates"] if x["chosen"]]  # type: ignore[index]
        for c in info["conflicts"]  # type: ignore[attr-defined]
    }
    assert chosen == {"elf ears": ["pointy ears"], "tails": ["tail"], "thighhigh": ["thighhighs"]}

    run(capsys, "tags", "alias", "add", "elf_ears", "elf")
    assert run(capsys, "tags", "normalize", "elf_ears")["normalized"] == "elf"
    main(["tags", "db", "info", "--conflicts"])
    text = capsys.readouterr().out
    assert "thighhigh -> *thighhighs (1,170,432), single thighhigh (57,018)" in text
    assert "[pinned by user alias -> elf]" in text
    assert not text.lstrip().startswith("{")  # plain text unless --json
