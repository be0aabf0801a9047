"""`lorairo images search|show` and `lorairo tags stats`: thin shells over SearchService."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lorairo.cli.app import CliState, ProjectOption, images_app, state, tags_app
from lorairo.cli.output import emit, stdout
from lorairo.services.choices import SORTS

# Typing only: the services load SQLAlchemy and the tag database; each command imports what it runs.
if TYPE_CHECKING:
    from lorairo.services.project_service import Project
    from lorairo.services.search_service import AliasResolver

QueryArgument = Annotated[
    str,
    typer.Argument(
        help="Search query, e.g. 'tag:1girl -tag:monochrome score:>6' (empty = all); "
        "put -- before a query that starts with '-'."
    ),
]


@contextmanager
def open_with_resolver(cli: CliState, name: str | None) -> Iterator[tuple[Project, AliasResolver | None]]:
    """The project plus the tag database's alias resolver when a tag database is installed."""
    from lorairo.services.tag_service import TagService

    project = cli.open_project(name)
    tags = TagService(cli.config)
    try:
        yield project, tags.resolve_aliases if tags.available() else None
    finally:
        tags.close()
        project.close()


@images_app.command("search")
def search(
    ctx: typer.Context,
    query: QueryArgument = "",
    count: Annotated[bool, typer.Option("--count", help="Print only the number of matches.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Results per page.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many results.")] = 0,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help=f"One of {', '.join(SORTS)}. Default: similarity (most similar first) when the "
            "query has similar: or text:, else added.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --sort random.")] = 0,
    project: ProjectOption = None,
) -> None:
    """Find images with the query language (tags, captions, scores, ratings, size, models...)."""
    from lorairo.services.search_service import SearchService
    from lorairo.services.similarity_service import SimilarityService

    cli = state(ctx)
    with open_with_resolver(cli, project) as (opened, resolver):
        service = SearchService(opened, resolver, SimilarityService(opened, cli.config).term_resolvers())
        if count:
            total = service.count(query)
            emit(cli, {"query": query, "total": total}, lambda: stdout.print(total))
            return
        page = service.search(query, sort=sort, limit=limit, offset=offset, seed=seed)
        explanation = service.explain(query) if page.total == 0 else None

    def render() -> None:
        if explanation is not None:
            stdout.print(explanation.message, markup=False, highlight=False)
            return
        table = Table("id", "name", "size", "score", "rating", "tags")
        for item in page.summaries:
            table.add_row(
                str(item.id),
                item.name,
                f"{item.width}x{item.height}",
                "" if item.score is None else f"{item.score:.2f}",
                item.rating or "",
                ", ".join(item.tags[:8]),
            )
        stdout.print(table)
        stdout.print(count_line(page.total, offset, len(page.ids)))

    data = page.to_dict()
    if explanation is not None:
        data["explanation"] = explanation.to_dict()
    emit(cli, data, render)


def count_line(total: int | None, offset: int, shown: int) -> str:
    """`1-50 of 812 matching images`; never "none of 0"."""
    if total is None:
        return f"{offset + 1:,}-{offset + shown:,}" if shown else "No matching images"
    if total == 0:
        return "No matching images"
    noun = "matching image" if total == 1 else "matching images"
    if shown == 0:
        return f"{total:,} {noun}; none after --offset {offset}"
    return f"{offset + 1:,}-{offset + shown:,} of {total:,} {noun}"


@images_app.command("show")
def show(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(help="Image ids.")],
    project: ProjectOption = None,
) -> None:
    """Everything stored about images: tags with model, confidence and rejected state, captions..."""
    from lorairo.services.search_service import SearchService

    cli = state(ctx)
    with open_with_resolver(cli, project) as (opened, _resolver):
        details = SearchService(opened).details(ids)

    def render() -> None:
        for image in details:
            stdout.print(
                f"[bold]#{image['id']} {image['name']}[/bold] {image['width']}x{image['height']} "
                f"{image['format']} reviewed={image['reviewed_at'] or 'no'}"
            )
            table = Table("tag", "category", "source", "confidence", "accepted", "rejected", "pos")
            for tag in image["tags"]:
                confidence = tag["confidence"]
                table.add_row(
                    tag["tag"],
                    tag["category"],
                    tag["model"] or tag["source"],
                    "" if confidence is None else f"{confidence:.3f}",
                    "yes" if tag["is_accepted"] else "no",
                    tag["rejected_at"] or "",
                    str(tag["position"]),
                )
            stdout.print(table)
            for caption in image["captions"]:
                stdout.print(f"caption ({caption['model'] or caption['source']}): {caption['caption']}")
            for score in image["scores"]:
                stdout.print(
                    f"score {score['kind']} ({score['model'] or score['source']}): "
                    f"{score['score']:.2f}/{score['scale_max']:g}"
                )
            for rating in image["ratings"]:
                stdout.print(f"rating ({rating['model'] or rating['source']}): {rating['rating']}")
            for failure in image["failures"]:
                stdout.print(f"failed {failure['model_name']}: {failure['failure_reason']}")

    emit(cli, {"images": details}, render)


@tags_app.command("stats")
def stats(
    ctx: typer.Context,
    query: QueryArgument = "",
    top: Annotated[int, typer.Option("--top", min=1, max=10_000, help="Tags per category.")] = 30,
    project: ProjectOption = None,
) -> None:
    """Tag frequency by category, score histogram and rating counts over the matching images."""
    from lorairo.services.search_service import SearchService
    from lorairo.services.similarity_service import SimilarityService

    cli = state(ctx)
    with open_with_resolver(cli, project) as (opened, resolver):
        service = SearchService(opened, resolver, SimilarityService(opened, cli.config).term_resolvers())
        total = service.count(query)
        facets = service.facets(query, top=top)

    def render() -> None:
        stdout.print(f"{total} matching images")
        for category, counts in facets.tags.items():
            table = Table(category, "images", title=None)
            for item in counts:
                table.add_row(item.tag, str(item.images))
            stdout.print(table)
        for kind, buckets in facets.score_histogram.items():
            stdout.print(f"score {kind}: " + "  ".join(f"{k}: {v}" for k, v in buckets.items()))
        if facets.ratings:
            stdout.print("ratings: " + "  ".join(f"{k}: {v}" for k, v in facets.ratings.items()))

    emit(cli, {"query": query, "total": total, **facets.to_dict()}, render)
