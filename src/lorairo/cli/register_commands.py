"""`lorairo images register | duplicates | process | quality | rejections`: thin shells over RegistrationService."""

from __future__ import annotations

import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lorairo.cli.app import ProjectOption, images_app, state
from lorairo.cli.output import emit, progress_bar, stdout
from lorairo.errors import OperationCancelled
from lorairo.services.choices import DEFAULT_THRESHOLD
from lorairo.services.progress import CancelToken

# Typing only: registration loads Pillow, scipy (image hashes) and SQLAlchemy; each command
# imports what it runs.
if TYPE_CHECKING:
    from lorairo.services.registration_service import RegistrationReport
    from lorairo.services.similarity_service import DuplicatesReport

_SHOWN = 20  # rows per section in the human rendering; --json always has everything


def _render_register(report: RegistrationReport) -> None:
    data = report.to_dict()
    if report.counts.registered == 0 and not report.cancelled:
        stdout.print("Nothing new to register.")
    stdout.print(
        f"[bold]{report.project}[/]: {data['registered']} registered, "
        f"{len(report.duplicates)} exact duplicates, {len(report.near_duplicates)} near-duplicates, "
        f"{len(report.failed)} rejected, {data['skipped_existing']} already registered, "
        f"{data['sidecars_imported']} sidecars imported, {data['ignored_non_images']} non-images ignored "
        f"in {data['seconds']:.1f}s ({data['images_per_second']} images/s)"
        + (" [yellow](cancelled)[/]" if report.cancelled else "")
    )
    if report.counts.previously_rejected:
        stdout.print(
            f"{report.counts.previously_rejected} files rejected by an earlier run and unchanged since were "
            "not tried again (`lorairo images rejections` lists them)."
        )
    if report.skipped_links:
        stdout.print(
            f"[yellow]{len(report.skipped_links)} folder links leading outside the given paths were not "
            "followed[/] (--follow-links follows them): " + ", ".join(report.skipped_links[:5])
        )
    if report.failed:
        table = Table("rejected file", "reason", "detail", title="Rejected")
        for failure in report.failed[:_SHOWN]:
            detail = failure.get("message", "")
            table.add_row(failure["path"], failure["reason"], "" if detail == failure["reason"] else detail)
        stdout.print(table)
    if report.duplicates:
        table = Table("file", "same bytes as image", title="Exact duplicates (not registered)")
        for dup in report.duplicates[:_SHOWN]:
            table.add_row(dup["path"], f"#{dup['duplicate_of']} {dup['duplicate_of_path']}")
        stdout.print(table)
    if report.near_duplicates:
        table = Table("new image", "resembles", "distance", title="Near-duplicates (registered, linked)")
        for near in report.near_duplicates[:_SHOWN]:
            closest = near["similar_to"][0]
            table.add_row(f"#{near['image_id']} {near['path']}", closest["path"], str(closest["distance"]))
        stdout.print(table)
    hidden = max(len(report.failed), len(report.duplicates), len(report.near_duplicates)) - _SHOWN
    if hidden > 0:
        stdout.print("... and more; use --json for the full lists, `lorairo images duplicates` for groups.")
    if report.cancelled:
        stdout.print("Registration cancelled; what was registered is kept. Run again to continue.")


@contextmanager
def cancel_on_interrupt() -> Iterator[CancelToken]:
    """The first Ctrl-C asks the run to stop after what is in flight (committed batches stay);
    a second one interrupts at once."""
    cancel = CancelToken()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


@images_app.command("register")
def register(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders (searched recursively).")],
    follow_links: Annotated[
        bool,
        typer.Option("--follow-links", help="Also follow folder links that lead outside the given paths."),
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Register images: validate, deduplicate, copy into the project, make processed copies and
    thumbnails, import .txt/.caption sidecars. Re-running is safe and registers only what is new.
    Ctrl-C stops after the files in flight; everything registered so far is kept."""
    from lorairo.services.registration_service import RegistrationService

    cli = state(ctx)
    name = project or cli.config.config.directories.database_project_name
    created = not cli.projects.exists(name)
    opened = cli.projects.open(project, create=True)
    try:
        service = RegistrationService(opened, cli.config)
        with progress_bar("Registering") as progress, cancel_on_interrupt() as cancel:
            report = service.register(paths, progress, cancel, follow_links=follow_links)
    except BaseException:
        if created and RegistrationService(opened, cli.config).image_count() == 0:
            opened.close()
            shutil.rmtree(opened.root, ignore_errors=True)  # this run made it; nothing of the user's is in it
        raise
    finally:
        opened.close()
    emit(cli, report.to_dict(), lambda: _render_register(report))


def _render_groups(report: DuplicatesReport) -> None:
    found = (
        f"at cosine >= {report.threshold} ({report.model}, {report.images_indexed} images indexed)"
        if report.method == "semantic"
        else f"linked by pHash at registration ({report.images_indexed} images)"
    )
    stdout.print(f"{len(report.groups)} groups {found}; best by {', then '.join(report.ranked_by)}")
    for number, group in enumerate(report.groups[:_SHOWN], start=1):
        stdout.print(f"[bold]Group {number}[/] ({len(group.images)} images)")
        for image in group.images:
            mark = "keep" if image.id == group.keep else ("rejected" if image.export_rejected else "")
            score = "-" if image.score is None else f"{image.score:.3g}"
            sharpness = "-" if image.sharpness is None else f"{image.sharpness:.0f}"
            stdout.print(
                f"  #{image.id} {image.width}x{image.height} score {score} sharpness {sharpness} "
                f"{image.name} {mark}"
            )
    if report.keep_best is not None:
        edit = report.keep_best
        verb = (
            f"rejected from export (edit #{edit.edit_id})" if edit.applied else "would be rejected (--apply)"
        )
        stdout.print(f"{edit.images_changed} images {verb}")


@images_app.command("duplicates")
def duplicates(
    ctx: typer.Context,
    semantic: Annotated[
        bool, typer.Option("--semantic", help="Group by embedding similarity instead of pHash.")
    ] = False,
    threshold: Annotated[
        float, typer.Option("--threshold", help="--semantic: cosine similarity that makes a pair.")
    ] = DEFAULT_THRESHOLD,
    model: Annotated[str | None, typer.Option("--model", "-m", help="--semantic: embedding model.")] = None,
    keep_best: Annotated[
        bool,
        typer.Option(
            "--keep-best",
            help="Reject all but each group's best (resolution, then score, then sharpness) from "
            "export; a dry run until --apply, one undoable edit.",
        ),
    ] = False,
    apply: Annotated[bool, typer.Option("--apply", help="Write the --keep-best edit.")] = False,
    project: ProjectOption = None,
) -> None:
    """List near-duplicate groups (pHash links made at registration, or --semantic)."""
    from lorairo.services.registration_service import RegistrationService
    from lorairo.services.similarity_service import SimilarityService

    cli = state(ctx)
    opened = cli.open_project(project)
    if semantic or keep_best:
        try:
            service = SimilarityService(opened, cli.config)
            with progress_bar("Finding duplicates", "steps") as progress, cancel_on_interrupt() as cancel:
                if semantic:
                    report = service.duplicates(
                        threshold=threshold,
                        model=model,
                        keep_best=keep_best,
                        apply=apply,
                        progress=progress,
                        cancel=cancel,
                    )
                else:
                    report = service.phash_duplicates(
                        keep_best=keep_best, apply=apply, progress=progress, cancel=cancel
                    )
        except OperationCancelled:  # Ctrl-C: finding only reads, the edit is written whole or not at all
            emit(
                cli,
                {"project": opened.name, "cancelled": True, "changed": False},
                lambda: stdout.print("[yellow]Cancelled[/]: no groups were found and nothing was changed."),
            )
            raise typer.Exit(130) from None
        finally:
            opened.close()
        emit(cli, {"project": opened.name, **report.to_dict()}, lambda: _render_groups(report))
        return
    try:
        groups = RegistrationService(opened, cli.config).near_duplicate_groups()
    finally:
        opened.close()
    data: dict[str, Any] = {"project": opened.name, "groups": groups}

    def render() -> None:
        if not groups:
            stdout.print("No near-duplicates.")
        for number, group in enumerate(data["groups"], start=1):
            stdout.print(f"[bold]Group {number}[/] ({len(group['images'])} images)")
            for image in group["images"]:
                stdout.print(f"  #{image['id']} {image['width']}x{image['height']} {image['file_path']}")

    emit(cli, data, render)


@images_app.command("process")
def process(
    ctx: typer.Context,
    resolution: Annotated[int, typer.Option("--resolution", "-r", help="Long side (multiple of 64).")] = 1024,
    force: Annotated[bool, typer.Option("--force", help="Regenerate copies that already exist.")] = False,
    project: ProjectOption = None,
) -> None:
    """Create processed copies at another resolution for images that lack one."""
    from lorairo.services.registration_service import RegistrationService

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        service = RegistrationService(opened, cli.config)
        with progress_bar(f"Processing {resolution}px") as progress, cancel_on_interrupt() as cancel:
            report = service.process(resolution, progress, cancel, force=force)
    finally:
        opened.close()
    emit(
        cli,
        report.to_dict(),
        lambda: stdout.print(
            f"{report.processed} copies at {resolution}px written, {report.already_present} already "
            f"present, {len(report.failed)} failed in {report.seconds:.1f}s"
        ),
    )


@images_app.command("quality")
def quality(
    ctx: typer.Context,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Measure every image again, not only those without measures.")
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Compute quality measures (blur, brightness, contrast, letterbox, JPEG quality) for images
    registered without them. Ctrl-C stops after the files in flight; run again to continue."""
    from lorairo.services.registration_service import RegistrationService

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        service = RegistrationService(opened, cli.config)
        with progress_bar("Measuring quality") as progress, cancel_on_interrupt() as cancel:
            report = service.measure_quality(progress, cancel, recompute=recompute)
    finally:
        opened.close()

    def render() -> None:
        stdout.print(
            f"{report.measured} images measured, {report.already_measured} already measured, "
            f"{len(report.failed)} failed in {report.seconds:.1f}s"
            + (" [yellow](cancelled; run again to continue)[/]" if report.cancelled else "")
        )
        for failure in report.failed[:_SHOWN]:
            stdout.print(
                f"  #{failure['image_id']} {failure['path']}: {failure['reason']} {failure['message']}"
            )

    emit(cli, report.to_dict(), render)


@images_app.command("rejections")
def rejections(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 100,
    project: ProjectOption = None,
) -> None:
    """List files that registration rejected, with the reason (a later successful run clears them)."""
    from lorairo.services.registration_service import RegistrationService

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        total, rows = RegistrationService(opened, cli.config).rejections(limit)
    finally:
        opened.close()
    data = {"project": opened.name, "total": total, "rejections": [row.to_dict() for row in rows]}

    def render() -> None:
        if not rows:
            stdout.print("No rejected files.")
            return
        table = Table("file", "reason", "detail", title=f"Rejected files ({total})")
        for row in rows:
            table.add_row(row.file_path, row.reason, "" if row.message in (None, row.reason) else row.message)
        stdout.print(table)

    emit(cli, data, render)
