""" "`lorairo images search 'text:"..."'` ranks by similarity": a query with `text:` or `similar:`
and no --sort lists the most similar first; an explicit --sort still wins; `--sort similarity`
without such a term is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorairo.cli.main import main
from lorairo.services.project_service import Project
from lorairo.services.search_service import SearchService
from lorairo.services.similarity_service import SimilarityService
from tests.similarity.test_similarity_cli import embedded_project, run_cli


def test_text_and_similar_queries_come_most_similar_first(
    capsys: pytest.CaptureFixture[str], project: Project, clip_model: Path
) -> None:
    ids = embedded_project(capsys, project)
    added = list(ids.values())  # registration order: red-big, red-small, red-dark, blue, blue-2, green
    ranked = run_cli(capsys, "images", "similar", "--text", "green dress on a beach", "-p", "t", "-n", "6")
    by_similarity = [r["id"] for r in ranked["results"]]
    similarities = [r["similarity"] for r in ranked["results"]]
    assert similarities == sorted(similarities, reverse=True)
    assert by_similarity[0] == ids["green.png"] and by_similarity != added

    found = run_cli(capsys, "images", "search", 'text:"green dress on a beach"', "-p", "t")
    assert found["sort"] == "similarity"
    assert found["ids"] == by_similarity
    paged = run_cli(
        capsys, "images", "search", 'text:"green dress"', "-p", "t", "--limit", "2", "--offset", "1"
    )
    assert paged["ids"] == by_similarity[1:3] and paged["total"] == 6

    narrowed = run_cli(capsys, "images", "search", 'text:"green dress" -name:red-big.png', "-p", "t")
    assert narrowed["ids"] == [i for i in by_similarity if i != ids["red-big.png"]]
    explicit = run_cli(capsys, "images", "search", 'text:"green dress"', "-p", "t", "--sort", "added")
    assert explicit["sort"] == "added" and explicit["ids"] == added

    like_blue = run_cli(capsys, "images", "similar", str(ids["blue.png"]), "-p", "t", "-n", "5")
    found = run_cli(capsys, "images", "search", f"similar:{ids['blue.png']}", "-p", "t")
    assert found["ids"] == [r["id"] for r in like_blue["results"]]
    assert found["ids"][0] == ids["blue-2.png"]

    with pytest.raises(SystemExit) as exit_info:
        main(["images", "search", "width:>1", "-p", "t", "--sort", "similarity"])
    assert exit_info.value.code == 2
    assert "needs a similar: or text: term" in capsys.readouterr().err


def test_the_review_queue_follows_the_same_rule(
    capsys: pytest.CaptureFixture[str], project: Project, clip_model: Path
) -> None:
    ids = embedded_project(capsys, project)
    similarity = SimilarityService(project)
    service = SearchService(project, term_resolvers=similarity.term_resolvers())
    expected = [r.id for r in similarity.similar(ids["red-dark.png"]).results]
    assert service.ordered_ids(f"similar:{ids['red-dark.png']}") == expected
    assert service.ordered_ids("") == sorted(ids.values())  # no ranking term: date added
