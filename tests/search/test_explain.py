"""Search explains itself: parse errors point at their column (CLI caret, `--json` column), and an
empty result says what the query was understood as and what would find something."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorairo.cli.main import main
from lorairo.database.schema import Caption, Score, Tag
from lorairo.errors import QuerySyntaxError
from lorairo.services.search_service import SearchService, check_query
from tests.search.helpers import new_project


@pytest.fixture
def project(tmp_path: Path):
    project, ids = new_project(tmp_path, count=6)
    tags = [["red hair", "1girl"], ["red hair", "smile"], ["long hair"], ["cat"], ["cat", "smile"], []]
    with project.database.write_session() as session:
        for image_id, image_tags, score in zip(ids, tags, [2.0, 7.0, 5.0, 9.0, 1.0, 3.0], strict=True):
            for position, tag in enumerate(image_tags):
                session.add(Tag(image_id=image_id, tag=tag, position=position))
            session.add(Score(image_id=image_id, score=score))
            session.add(Caption(image_id=image_id, caption="a picture"))
    yield project, ids
    project.close()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "-p", "search-test"])
        raise SystemExit(0)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def test_parse_errors_carry_their_column_to_the_cli(project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "--json", "images", "search", "tag:cat (score:>5")
    assert code == 2
    error = json.loads(out)["error"]
    assert error["column"] == 9 and error["query"] == "tag:cat (score:>5"
    assert (
        error["message"] == "at column 9: unclosed parenthesis" and error["reason"] == "unclosed parenthesis"
    )
    code, out, err = _cli(capsys, "images", "search", "tag:cat colour:red")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0] == "Error: at column 9: unknown field 'colour'"
    assert lines[1] == "  tag:cat colour:red"
    assert lines[2] == "  " + " " * 8 + "^"


def test_caret_counts_wide_characters_twice() -> None:
    error = check_query("tag:猫耳 width:big")
    assert isinstance(error, QuerySyntaxError) and error.column == 14
    assert error.context_lines()[1] == "  " + " " * (13 + 2) + "^"
    assert check_query("tag:猫耳 width:>5") is None


def test_empty_result_suggests_a_close_tag(project) -> None:
    opened, _ids = project
    service = SearchService(opened)
    explained = service.explain('tag:1girl tag:"red hiar"')
    assert explained.total == 0
    assert explained.parsed == 'tag:1girl tag:"red hiar"'
    assert explained.suggestion is not None
    assert explained.suggestion.query == 'tag:1girl tag:"red hair"'
    assert explained.suggestion.total == 1 == service.count(explained.suggestion.query)
    bare = service.explain("smiel -tag:cat")
    assert bare.suggestion is not None and bare.suggestion.query == "smile -tag:cat"
    assert "try smile -tag:cat (1 image)" in bare.message


def test_empty_result_suggests_dropping_the_most_restrictive_part(project) -> None:
    opened, _ids = project
    service = SearchService(opened)
    explained = service.explain("tag:cat AND score:>8 -tag:smile (width:>1000 OR tag:cat) score:<2")
    assert explained.total == 0
    assert explained.suggestion is not None
    # Without `score:<2` one image matches; without anything else, none do.
    assert explained.suggestion.query == "tag:cat score:>8 -tag:smile (width:>1000 OR tag:cat)"
    assert explained.suggestion.total == service.count(explained.suggestion.query) == 1
    assert "without score:<2" in explained.suggestion.reason
    assert explained.parsed.startswith("tag:cat score[aesthetic]:>8 -tag:smile")
    nothing = service.explain("tag:dog")
    assert nothing.total == 0 and nothing.suggestion is None
    assert nothing.message == "No images match tag:dog"


def test_empty_search_in_the_cli_shows_the_explanation(project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = _cli(capsys, "--json", "images", "search", "tag:smile score:>8")
    data = json.loads(out)
    assert code == 0 and data["total"] == 0
    assert data["explanation"]["parsed"] == "tag:smile score[aesthetic]:>8"
    assert data["explanation"]["suggestion"]["total"] == 2
    code, out, _err = _cli(capsys, "images", "search", "tag:smile score:>8")
    assert code == 0 and out.startswith("No images match tag:smile score[aesthetic]:>8.")
    code, out, _err = _cli(capsys, "--json", "images", "search", "tag:smile")
    assert "explanation" not in json.loads(out)
