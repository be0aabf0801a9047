"""`lorairo tags db ...`, `tags lookup`, `tags normalize`, `tags alias ...`: the tag database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from genai_tag_db_tools.cleaning import split_raw
from lorairo.cli.app import state, tags_alias_app, tags_app, tags_db_app
from lorairo.cli.output import emit, progress_bar, stdout
from lorairo.errors import ValidationError
from lorairo.services.progress import CancelToken

# Typing only: the tag service loads the tag database (SQLAlchemy); each command imports what it runs.
if TYPE_CHECKING:
    from lorairo.services.tag_service import TagService

FormatOption = Annotated[
    Literal["tagcomplete", "wd-csv", "sqlite"] | None,
    typer.Option("--format", help="File format (default: detected from the file)."),
]
TagFormatOption = Annotated[
    Literal["danbooru", "e621"] | None,
    typer.Option("--tag-format", help="Booru vocabulary of a tagcomplete CSV (default: [tags] format)."),
]


def _service(ctx: typer.Context) -> TagService:
    from lorairo.services.tag_service import TagService

    return TagService(state(ctx).config)


@tags_db_app.command("import")
def import_file(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="tagcomplete CSV, WD selected_tags.csv or genai-image-tag-db SQLite.")
    ],
    file_format: FormatOption = None,
    tag_format: TagFormatOption = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add to the current base instead of replacing it.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Import even if over 1% of lines are malformed or the file has under half the tags.",
        ),
    ] = False,
) -> None:
    """Replace the base tag database with FILE (user aliases are kept; `tags db restore` undoes it)."""
    cli = state(ctx)
    service = _service(ctx)
    try:
        with progress_bar("Importing tags", unit="rows") as progress:
            report = service.import_file(
                file,
                file_format,
                tag_format=tag_format,
                append=append,
                force=force,
                progress=progress,
                cancel=CancelToken(),
            )
    finally:
        service.close()
    data = {**report.to_dict(), "directory": str(service.directory), "replaced": not append}
    emit(
        cli,
        data,
        lambda: stdout.print(
            f"Imported {report.tags:,} tags ({report.aliases:,} aliases, {report.translations:,} translations) "
            f"from {file}; {report.malformed:,} malformed lines and {report.skipped:,} rows skipped, "
            f"{report.conflicts:,} aliases listed under several tags (`tags db info --conflicts`). "
            "Undo with `lorairo tags db restore`."
        ),
    )


@tags_db_app.command("install")
def install(
    ctx: typer.Context,
    repo_id: Annotated[
        str | None, typer.Option("--repo-id", help="Hub dataset (default: [tags] db_repo_id).")
    ] = None,
    filename: Annotated[str, typer.Option("--filename", help="SQLite file in the dataset.")] = (
        "genai-image-tag-db-cc0.sqlite"
    ),
    force: Annotated[bool, typer.Option("--force", help="Re-import even if this file is installed.")] = False,
) -> None:
    """Download the published tag database from the Hugging Face Hub (cached; works offline after)."""
    cli = state(ctx)
    service = _service(ctx)
    try:
        with progress_bar("Installing tag database", unit="rows") as progress:
            report = service.install(repo_id, filename, force=force, progress=progress, cancel=CancelToken())
    finally:
        service.close()
    message = (
        f"{report.repo_id}/{report.filename} is already installed"
        if report.skipped
        else f"Installed {report.repo_id}/{report.filename}"
    )
    emit(cli, report.to_dict(), lambda: stdout.print(message))


@tags_db_app.command("restore")
def restore(ctx: typer.Context) -> None:
    """Swap back the base tag database that the last import or install replaced."""
    cli = state(ctx)
    service = _service(ctx)
    try:
        metadata = service.restore_previous()
    finally:
        service.close()
    emit(
        cli,
        {"restored": True, "metadata": metadata},
        lambda: stdout.print(f"Restored {metadata.get('source')}"),
    )


@tags_db_app.command("info")
def info(
    ctx: typer.Context,
    conflicts: Annotated[
        bool,
        typer.Option(
            "--conflicts", help="List aliases the source gave several tags, with the evidence for each."
        ),
    ] = False,
) -> None:
    """Where the tag database lives, what it was built from and how many rows it holds."""
    cli = state(ctx)
    service = _service(ctx)
    try:
        data: dict[str, object] = {
            "directory": str(service.directory),
            "format": service.format,
            "metadata": service.database().metadata(),
            "counts": service.database().stats(),
        }
        found = service.alias_conflicts() if conflicts else []
    finally:
        service.close()
    if conflicts:
        data["conflicts"] = found

    def render_conflicts() -> None:
        stdout.print(f"{len(found):,} aliases listed under several tags ({service.format}):")
        for item in found:
            pinned = f"  [pinned by user alias -> {item['pinned']}]" if item["pinned"] else ""
            choices = ", ".join(
                f"{'*' if c['chosen'] else ''}{c['target']} ({c['usage_count']:,}"
                f"{', deprecated' if c['deprecated'] else ''})"
                for c in item["candidates"]
            )
            stdout.print(f"{item['alias']} -> {choices}{pinned}", markup=False, highlight=False)
        stdout.print("* = chosen; pin another with `lorairo tags alias add ALIAS TAG`")

    emit(cli, data, render_conflicts if conflicts else None)


@tags_app.command("lookup")
def lookup(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Prefix or part of a tag, alias or translation.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500)] = 20,
) -> None:
    """Search the tag database: prefix and word matches first, then substrings, by usage count."""
    cli = state(ctx)
    service = _service(ctx)
    try:
        found = service.lookup(text, limit=limit)
    finally:
        service.close()
    data = {"query": text, "results": [s.to_dict() for s in found]}

    def render() -> None:
        table = Table("tag", "type", "count", "matched")
        for s in found:
            table.add_row(s.tag, s.type or "", f"{s.usage_count:,}", "" if s.matched == s.tag else s.matched)
        stdout.print(table)

    emit(cli, data, render)


@tags_app.command("normalize")
def normalize(
    ctx: typer.Context,
    tags: Annotated[str, typer.Argument(help='Comma-separated tags, e.g. "Gray_Hair, longhair".')],
) -> None:
    """Show the preferred form and type of each tag; unknown tags are listed separately."""
    cli = state(ctx)
    pieces = split_raw(tags)
    if not pieces:
        raise ValidationError("no tags given")
    service = _service(ctx)
    try:
        result = service.normalize(pieces)
    finally:
        service.close()
    data = {**result.to_dict(), "normalized": ", ".join(dict.fromkeys(t.tag for t in result.tags if t.tag))}

    def render() -> None:
        stdout.print(data["normalized"])
        if result.unknown:
            stdout.print(f"unknown: {', '.join(result.unknown)}")

    emit(cli, data, render)


@tags_alias_app.command("add")
def alias_add(
    ctx: typer.Context,
    alias: Annotated[str, typer.Argument(help="The spelling to replace.")],
    preferred: Annotated[str, typer.Argument(help="The tag it should become.")],
) -> None:
    """Add a user alias (kept when the base tag database is replaced)."""
    cli = state(ctx)
    service = _service(ctx)
    try:
        data = service.add_alias(alias, preferred)
    finally:
        service.close()
    emit(cli, data, lambda: stdout.print(f"{data['alias']} -> {data['preferred']}"))


@tags_alias_app.command("remove")
def alias_remove(ctx: typer.Context, alias: Annotated[str, typer.Argument(help="A user alias.")]) -> None:
    """Remove a user alias."""
    cli = state(ctx)
    service = _service(ctx)
    try:
        removed = service.remove_alias(alias)
    finally:
        service.close()
    if not removed:
        raise ValidationError(f"no user alias {alias!r}")
    emit(cli, {"alias": alias, "removed": True}, lambda: stdout.print(f"Removed alias {alias}"))


@tags_alias_app.command("list")
def alias_list(ctx: typer.Context) -> None:
    """List user aliases."""
    cli = state(ctx)
    service = _service(ctx)
    try:
        aliases = service.list_aliases()
    finally:
        service.close()

    def render() -> None:
        for item in aliases:
            stdout.print(f"{item['alias']} -> {item['preferred']}")

    emit(cli, {"aliases": aliases}, render)
