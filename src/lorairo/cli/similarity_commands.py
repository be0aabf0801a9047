"""`lorairo images similar`: thin shell over SimilarityService (semantic duplicates are an option
of `images duplicates`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lorairo.cli.app import ProjectOption, images_app, state
from lorairo.cli.output import emit, stdout
from lorairo.errors import ValidationError

# Typing only: similarity loads numpy and SQLAlchemy; each command imports what it runs.
if TYPE_CHECKING:
    from lorairo.services.similarity_service import SimilarReport

ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Embedding model (default: the one with the most stored vectors)."),
]


def render_similar(report: SimilarReport) -> None:
    if not report.results:
        stdout.print("No similar images.")
        return
    title = f'Images matching "{report.text}"' if report.text is not None else f"Images like #{report.image}"
    table = Table("id", "name", "similarity", title=f"{title} ({report.model})")
    for result in report.results:
        table.add_row(str(result.id), result.name, f"{result.similarity:.4f}")
    stdout.print(table)


@images_app.command("similar")
def similar(
    ctx: typer.Context,
    image_id: Annotated[int | None, typer.Argument(help="The image to find others like.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many images to list.")] = 50,
    model: ModelOption = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Rank by a text instead of an image (needs a text encoder).")
    ] = None,
    project: ProjectOption = None,
) -> None:
    """The images nearest an image (or a text) by embedding cosine similarity, nearest first."""
    from lorairo.services.similarity_service import SimilarityService

    if (image_id is None) == (text is None):
        raise ValidationError("give an image id or --text, not both")
    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        service = SimilarityService(opened, cli.config)
        if text is not None:
            report = service.by_text(text, limit=limit, model=model)
        else:
            assert image_id is not None
            report = service.similar(image_id, limit=limit, model=model)
    finally:
        opened.close()
    emit(cli, report.to_dict(), lambda: render_similar(report))
