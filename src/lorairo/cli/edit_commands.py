"""Bulk edits (`tags add|remove|replace|reject|restore|reorder`, `images set-caption|set-score|...`,
`images remove`) and `edits log|undo|redo`. Every edit is a dry run unless `--apply` is given, and every applied edit
can be undone with `lorairo edits undo`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lorairo.cli.app import CliState, ProjectOption, edits_app, images_app, state, tags_app
from lorairo.cli.output import emit, progress_bar, stdout
from lorairo.cli.search_commands import open_with_resolver
from lorairo.errors import ValidationError
from lorairo.services.progress import ProgressCallback

# Typing only: the edit service loads SQLAlchemy, Pillow; each command imports what it runs.
if TYPE_CHECKING:
    from lorairo.export.crop import CropBox
    from lorairo.services.edit_service import EditReport, EditService, EditTarget, Position

QueryArg = Annotated[
    str | None, typer.Argument(help="Which images: a search query (or use --ids; 'all' = every image).")
]
IdsOption = Annotated[str | None, typer.Option("--ids", help="Comma-separated image ids instead of a query.")]
ApplyOption = Annotated[bool, typer.Option("--apply", help="Write the edit; without it this is a dry run.")]
TagsArg = Annotated[str, typer.Argument(help="Tag, or comma-separated tags ('*' and '?' match).")]


def _parse_ids(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValidationError(f"--ids must be comma-separated integers, got {text!r}") from None


def _target(query: str | None, ids: str | None, default: EditTarget | None = None) -> EditTarget:
    from lorairo.services.edit_service import EditTarget

    if query is not None and ids is not None:
        raise ValidationError("give a query or --ids, not both")
    if ids is not None:
        return EditTarget(ids=_parse_ids(ids))
    if query is not None:
        return EditTarget(query=query)
    if default is None:
        raise ValidationError("say which images: a query (e.g. 'tag:1girl' or 'all') or --ids 1,2,3")
    return default


def _split(tags: str) -> list[str]:
    return [part for part in tags.split(",") if part.strip()]


def _run(
    cli: CliState, project: str | None, edit: Callable[[EditService, ProgressCallback], EditReport]
) -> None:
    from lorairo.services.edit_service import EditService

    with open_with_resolver(cli, project) as (opened, resolver), progress_bar("Editing") as progress:
        report = edit(EditService(opened, resolver), progress)

    def render() -> None:
        rows = f"+{report.rows_inserted} ~{report.rows_updated} -{report.rows_deleted} rows"
        if report.applied:
            if report.edit_id is None:
                stdout.print(f"Nothing to change in {report.images_matched} matching images.")
                return
            stdout.print(
                f"Edit #{report.edit_id} ({report.description}): changed {report.images_changed} of "
                f"{report.images_matched} matching images ({rows}). Undo with: lorairo edits undo"
            )
            return
        stdout.print(
            f"Dry run ({report.description}): would change {report.images_changed} of "
            f"{report.images_matched} matching images ({rows})."
        )
        for image_id, labels in report.samples.items():
            stdout.print(f"  #{image_id}: {', '.join(labels[:10])}{' ...' if len(labels) > 10 else ''}")
        if report.images_changed:
            stdout.print("Run again with --apply to write it.")

    emit(cli, report.to_dict(), render)


@tags_app.command("add")
def add(
    ctx: typer.Context,
    tags: TagsArg,
    query: QueryArg = None,
    ids: IdsOption = None,
    position: Annotated[str, typer.Option("--position", help="front or back of the tag list.")] = "back",
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Add manual tags to the selected images (skipped where the image already has them)."""
    if position not in ("front", "back"):
        raise ValidationError(f"--position must be front or back, got {position!r}")
    where: Position = "front" if position == "front" else "back"
    target = _target(query, ids)
    _run(
        state(ctx),
        project,
        lambda s, p: s.add_tags(target, _split(tags), position=where, apply=apply, progress=p),
    )


@tags_app.command("remove")
def remove(
    ctx: typer.Context,
    tags: TagsArg,
    query: QueryArg = None,
    ids: IdsOption = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Remove tags (from every image that has them unless a query or --ids narrows it)."""
    from lorairo.services.edit_service import tag_target

    target = _target(query, ids, tag_target(_split(tags)))
    _run(state(ctx), project, lambda s, p: s.remove_tags(target, _split(tags), apply=apply, progress=p))


@tags_app.command("replace")
def replace(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="Tag to replace (a Python regex with --regex).")],
    new: Annotated[str, typer.Argument(help="Replacement (may use \\1 with --regex).")],
    query: QueryArg = None,
    ids: IdsOption = None,
    regex: Annotated[bool, typer.Option("--regex", help="OLD is a regular expression.")] = False,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Replace a tag with another, keeping its position in the tag list."""
    from lorairo.services.edit_service import EditTarget, tag_target

    default = EditTarget(query="all") if regex else tag_target([old])
    target = _target(query, ids, default)
    _run(
        state(ctx),
        project,
        lambda s, p: s.replace_tag(target, old, new, regex=regex, apply=apply, progress=p),
    )


@tags_app.command("reject")
def reject(
    ctx: typer.Context,
    tags: TagsArg,
    query: QueryArg = None,
    ids: IdsOption = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Reject tags: kept in the database but excluded from search and export (see `restore`)."""
    from lorairo.services.edit_service import tag_target

    target = _target(query, ids, tag_target(_split(tags)))
    _run(state(ctx), project, lambda s, p: s.reject_tags(target, _split(tags), apply=apply, progress=p))


@tags_app.command("restore")
def restore(
    ctx: typer.Context,
    tags: TagsArg,
    query: QueryArg = None,
    ids: IdsOption = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Restore rejected tags."""
    from lorairo.services.edit_service import tag_target

    target = _target(query, ids, tag_target(_split(tags), rejected=True))
    _run(
        state(ctx),
        project,
        lambda s, p: s.reject_tags(target, _split(tags), restore=True, apply=apply, progress=p),
    )


@tags_app.command("reorder")
def reorder(
    ctx: typer.Context,
    image_id: Annotated[int, typer.Argument(help="The image whose tags to order.")],
    tags: Annotated[str, typer.Argument(help="Comma-separated tags, first to last.")],
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Order one image's tags by hand: the named tags first, in this order (export keeps it with
    --order manual); the others follow by the export's rule."""
    _run(state(ctx), project, lambda s, p: s.reorder_tags(image_id, _split(tags), apply=apply, progress=p))


ClearOption = Annotated[bool, typer.Option("--clear", help="Remove the manual value instead.")]


def _value_or_clear(value: str | None, clear: bool, what: str) -> str | None:
    if clear == (value is not None):
        raise ValidationError(f"give a {what} or --clear (not both)")
    return value


@images_app.command("set-caption")
def set_caption(
    ctx: typer.Context,
    query: QueryArg = None,
    caption: Annotated[str | None, typer.Option("--caption", help="The manual caption.")] = None,
    clear: ClearOption = False,
    ids: IdsOption = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Set (or --clear) the manual caption, which wins over model captions."""
    text = _value_or_clear(caption, clear, "--caption")
    target = _target(query, ids)
    _run(state(ctx), project, lambda s, p: s.set_caption(target, text, apply=apply, progress=p))


@images_app.command("set-score")
def set_score(
    ctx: typer.Context,
    query: QueryArg = None,
    score: Annotated[float | None, typer.Option("--score", help="The manual score (0..scale).")] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Score kind (default: [search] default_score_kind).")
    ] = None,
    clear: ClearOption = False,
    ids: IdsOption = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Set (or --clear) the manual score of one kind, which wins over model scores of that kind."""
    if clear == (score is not None):
        raise ValidationError("give --score or --clear (not both)")
    target = _target(query, ids)
    _run(
        state(ctx),
        project,
        lambda s, p: s.set_score(target, score, kind=kind or s.project.score_kind, apply=apply, progress=p),
    )


@images_app.command("set-rating")
def set_rating(
    ctx: typer.Context,
    query: QueryArg = None,
    rating: Annotated[
        str | None, typer.Option("--rating", help="general, sensitive, questionable or explicit.")
    ] = None,
    clear: ClearOption = False,
    ids: IdsOption = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Set (or --clear) the manual content rating, which wins over model ratings."""
    value = _value_or_clear(rating, clear, "--rating")
    target = _target(query, ids)
    _run(state(ctx), project, lambda s, p: s.set_rating(target, value, apply=apply, progress=p))


@images_app.command("mark-reviewed")
def mark_reviewed(
    ctx: typer.Context,
    query: QueryArg = None,
    clear: Annotated[bool, typer.Option("--clear", help="Mark as not reviewed.")] = False,
    ids: IdsOption = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Mark images reviewed (searchable with `reviewed` / `-reviewed`)."""
    target = _target(query, ids)
    _run(
        state(ctx),
        project,
        lambda s, p: s.mark_reviewed(target, reviewed=not clear, apply=apply, progress=p),
    )


@images_app.command("remove")
def remove_images(
    ctx: typer.Context,
    ids: Annotated[str | None, typer.Argument(help="Comma-separated image ids (or use --query).")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="A search query instead of ids.")] = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Take images out of the project: their rows go (snapshotted) and their files move to the
    project's trash folder, never deleted. One edit: `lorairo edits undo` brings them back."""
    from lorairo.services.edit_service import EditService, EditTarget

    if (ids is None) == (query is None):
        raise ValidationError("say which images: ids (e.g. 3,7,12) or --query 'blurry'")
    target = EditTarget(ids=_parse_ids(ids)) if ids is not None else EditTarget(query=query)
    cli = state(ctx)
    with open_with_resolver(cli, project) as (opened, resolver), progress_bar("Removing") as progress:
        report = EditService(opened, resolver).remove_images(target, apply=apply, progress=progress)

    def render() -> None:
        files = f"{report.files} files" + (
            f", {report.files_missing} already missing" if report.files_missing else ""
        )
        if not report.applied:
            stdout.print(
                f"Dry run: would remove {report.images_changed} images ({report.rows_deleted} rows, "
                f"{files}) from the project, the files to its trash folder."
            )
            for image_id, labels in report.samples.items():
                stdout.print(f"  #{image_id}: {', '.join(labels)}")
            if report.images_changed:
                stdout.print("Run again with --apply to remove them.")
            return
        stdout.print(
            f"Edit #{report.edit_id}: removed {report.images_changed} images ({report.rows_deleted} "
            f"rows); {files} moved to {report.trash}. Undo with: lorairo edits undo"
        )

    emit(cli, report.to_dict(), render)


@edits_app.command("log")
def log(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many entries, newest first.")] = 20,
    project: ProjectOption = None,
) -> None:
    """List applied bulk edits, newest first."""
    from lorairo.services.edit_service import EditService

    cli = state(ctx)
    with open_with_resolver(cli, project) as (opened, _resolver):
        entries = EditService(opened).log(limit)

    def render() -> None:
        table = Table("id", "when", "edit", "query", "images", "undone")
        for entry in entries:
            table.add_row(
                str(entry.id),
                f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
                entry.description,
                entry.query or "(ids)",
                str(entry.affected_images),
                f"{entry.undone_at:%Y-%m-%d %H:%M}" if entry.undone_at else "",
            )
        stdout.print(table)

    emit(cli, {"edits": [entry.to_dict() for entry in entries]}, render)


def _replay(ctx: typer.Context, project: str | None, *, redo: bool) -> None:
    from lorairo.services.edit_service import EditService

    cli = state(ctx)
    with open_with_resolver(cli, project) as (opened, _resolver):
        service = EditService(opened)
        report = service.redo() if redo else service.undo()
    verb = "Redid" if redo else "Undid"
    emit(
        cli,
        report.to_dict(),
        lambda: stdout.print(
            f"{verb} edit #{report.edit_id} ({report.description}): {report.rows} row changes"
        ),
    )


@edits_app.command("undo")
def undo(ctx: typer.Context, project: ProjectOption = None) -> None:
    """Revert the last edit that is not undone, restoring the exact previous state."""
    _replay(ctx, project, redo=False)


@edits_app.command("redo")
def redo(ctx: typer.Context, project: ProjectOption = None) -> None:
    """Re-apply the last undone edit (only while no newer edit was made)."""
    _replay(ctx, project, redo=True)


@images_app.command("crop")
def crop(
    ctx: typer.Context,
    query: Annotated[
        str | None, typer.Argument(help="An image id, or a search query (or use --ids).")
    ] = None,
    box: Annotated[str | None, typer.Option("--box", help="x,y,w,h in upright pixels.")] = None,
    aspect: Annotated[str | None, typer.Option("--aspect", help="Largest W:H rectangle, e.g. 2:3.")] = None,
    focus: Annotated[
        str, typer.Option("--focus", help="With --aspect: center, top, or x,y fractions of the image.")
    ] = "center",
    clear: ClearOption = False,
    ids: IdsOption = None,
    apply: ApplyOption = False,
    project: ProjectOption = None,
) -> None:
    """Set a non-destructive crop that export applies before resizing (undo: lorairo edits undo)."""
    from lorairo.export.crop import parse_aspect, parse_box, parse_focus

    if sum(choice is not None and choice is not False for choice in (box, aspect, clear or None)) != 1:
        raise ValidationError("give exactly one of --box, --aspect or --clear")
    value: CropBox | tuple[float, str | tuple[float, float]] | None = None
    if box is not None:
        value = parse_box(box)
    elif aspect is not None:
        value = (parse_aspect(aspect), parse_focus(focus))
    if query is not None and query.isdigit() and ids is None:
        query, ids = None, query
    target = _target(query, ids)
    _run(state(ctx), project, lambda s, p: s.set_crop(target, value, apply=apply, progress=p))
