"""`lorairo annotate run|models|rethreshold|failures` and `lorairo models install`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Column, Table

from lorairo.annotations.caption_styles import STYLE_NAMES, caption_style
from lorairo.cli.app import CliState, ProjectOption, annotate_app, models_app, state
from lorairo.cli.output import MODEL_NAME_WIDTH, emit, progress_bar, shorten_middle, stdout
from lorairo.errors import ValidationError
from lorairo.services.progress import CancelToken

# The annotation services load the model registry (onnxruntime, the provider SDKs): each command
# imports what it runs, so `--help` and the other commands start without them.
if TYPE_CHECKING:
    from lorairo.services.annotation_plan import AnnotationPlan
    from lorairo.services.annotation_service import AnnotationService, Selection


def parse_ids(text: str) -> list[int]:
    """`1,2,10-20` -> ids; ranges are inclusive."""
    ids: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, sep, last = part.partition("-")
        try:
            start = int(first)
            end = int(last) if sep else start
        except ValueError:
            raise ValidationError(f"--ids: {part!r} is not an id or a range like 10-20") from None
        if end < start:
            raise ValidationError(f"--ids: range {part!r} runs backwards")
        ids.extend(range(start, end + 1))
    if not ids:
        raise ValidationError("--ids: no ids given")
    return ids


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / 1e6:,.1f} MB" if size < 1e9 else f"{size / 1e9:,.2f} GB"


@annotate_app.command("run")
def run(
    ctx: typer.Context,
    models: Annotated[list[str], typer.Option("-m", "--model", help="Model name; repeat for several.")],
    project: ProjectOption = None,
    missing: Annotated[
        bool, typer.Option("--missing", help="Only images this model has not annotated (default).")
    ] = False,
    all_images: Annotated[
        bool, typer.Option("--all", help="Every image, replacing earlier results.")
    ] = False,
    ids: Annotated[str | None, typer.Option("--ids", help="Image ids, e.g. 1,2,10-20.")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, max=1024, help="Images per inference call.")
    ] = None,
    retry_violations: Annotated[
        bool, typer.Option("--retry-violations", help="Also send images an API model refused before.")
    ] = False,
    style: Annotated[
        str | None,
        typer.Option(
            "--style",
            help=f"Caption style for vision LLMs: {', '.join(STYLE_NAMES)}, or custom:FILE.toml.",
        ),
    ] = None,
    trigger: Annotated[
        str, typer.Option("--trigger", help="Trigger word for the style's {trigger} placeholder.")
    ] = "",
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print images, requests and estimated input tokens; send nothing."),
    ] = False,
    distributed: Annotated[
        bool,
        typer.Option(
            "--distributed",
            help="Queue the work for `lorairo worker` processes and show their progress.",
        ),
    ] = False,
    detach: Annotated[
        bool, typer.Option("--detach", help="With --distributed: queue and return at once.")
    ] = False,
) -> None:
    """Annotate images with local taggers/scorers (or vision LLMs); results are committed per batch."""
    from lorairo.services.annotation_plan import plan_run
    from lorairo.services.annotation_service import AnnotationService

    if sum((missing, all_images, ids is not None)) > 1:
        raise ValidationError("choose one of --missing, --all and --ids")
    selection: Selection = parse_ids(ids) if ids is not None else ("all" if all_images else "missing")
    if distributed and (dry_run or style is not None or retry_violations):
        raise ValidationError(
            "--distributed queues plain work: drop --dry-run, --style and --retry-violations"
        )
    if detach and not distributed:
        raise ValidationError("--detach only goes with --distributed")
    chosen = caption_style(style) if style is not None else None
    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        service = AnnotationService(opened, cli.config)
        if distributed:
            _distributed(cli, service, models, selection, batch_size, detach=detach)
            return
        if dry_run:
            plan = plan_run(
                service, models, selection, style=chosen, trigger=trigger, retry_violations=retry_violations
            )
        else:
            with progress_bar("Annotating") as bar:
                report = service.run(
                    models,
                    selection,
                    batch_size,
                    progress=bar,
                    retry_violations=retry_violations,
                    style=chosen,
                    trigger=trigger,
                )
    finally:
        opened.close()
    if dry_run:
        emit(cli, plan.to_dict(), lambda: _render_plan(plan))
        return
    data = report.to_dict()

    def render() -> None:
        for model in report.per_model:
            rate = model.annotated / model.seconds if model.seconds else 0.0
            device = f", on {model.execution_provider}" if model.execution_provider else ""
            stdout.print(
                f"{model.name}: {model.annotated:,} of {model.selected:,} images annotated, "
                f"{model.failures:,} failed, {model.tags:,} tags stored ({rate:.1f} images/s{device})"
            )
        if report.requests:
            stdout.print(
                f"API: {report.requests:,} requests, {report.retries:,} retries, "
                f"{report.policy_violations:,} policy violations, "
                f"tokens {report.input_tokens:,} in / {report.output_tokens:,} out "
                f"({report.thinking_tokens:,} of them thinking)"
            )
        if report.style:
            stdout.print(f"Caption style: {report.style}")
        if report.violations_skipped:
            stdout.print(
                f"Skipped {report.violations_skipped:,} images refused before for content policy "
                "(--retry-violations sends them again)."
            )
        if report.claimed_by_other_runs:
            stdout.print(
                f"Left {report.claimed_by_other_runs:,} images to another run annotating this project "
                "with the same model."
            )
        if report.failures:
            stdout.print("See `lorairo annotate failures` for what failed and why.")
        if report.cancelled:
            stdout.print("Stopped early; run again to continue where it stopped.")

    emit(cli, data, render)


def _distributed(
    cli: CliState,
    service: AnnotationService,
    models: list[str],
    selection: Selection,
    batch_size: int | None,
    *,
    detach: bool,
) -> None:
    """Queue the selection, then follow the workers until the job is done (Ctrl-C stops
    watching; the queued work stays for the workers)."""
    queued = service.enqueue(models, selection, batch_size)
    final = service.progress_of(queued.job)
    if not detach and queued.images_queued:
        cancel = CancelToken()
        try:
            with progress_bar("Workers annotating") as bar:
                final = service.watch(queued.job, bar, cancel)
        except KeyboardInterrupt:
            final = service.progress_of(queued.job)
    data = queued.to_dict() | {"progress": final.to_dict()}

    def render() -> None:
        stdout.print(
            f"Queued {queued.images_queued:,} images as job {queued.job} "
            f"({queued.already_queued:,} were already queued)."
        )
        stdout.print(
            f"Done {final.images_done:,} of {final.images_total:,}; "
            "start workers with `lorairo worker -p PROJECT -m MODEL`, list them with `lorairo workers`."
        )

    emit(cli, data, render)


def _render_plan(plan: AnnotationPlan) -> None:
    for model in plan.models:
        if model.api:
            stdout.print(
                f"{model.name}: {model.images:,} images, {model.requests:,} requests, "
                f"about {model.estimated_input_tokens:,} input tokens"
            )
        else:
            stdout.print(f"{model.name}: {model.images:,} images (local model, no requests)")
    style = f" in style {plan.style}" if plan.style else ""
    stdout.print(
        f"Dry run{style}: nothing was sent. {plan.requests:,} requests, "
        f"about {plan.estimated_input_tokens:,} input tokens (retries not counted)."
    )


@annotate_app.command("styles")
def styles(ctx: typer.Context) -> None:
    """Caption style presets for vision LLMs: fields asked for, placeholders used, wording hash."""
    presets = [caption_style(name) for name in STYLE_NAMES]
    data = {
        "styles": [
            {"name": s.name, "hash": s.hash, "fields": list(s.fields), "placeholders": sorted(s.placeholders)}
            for s in presets
        ]
    }

    def render() -> None:
        table = Table("style", "hash", "fields", "placeholders")
        for s in presets:
            table.add_row(
                s.name, s.hash, ", ".join(s.fields), " ".join(f"{{{p}}}" for p in sorted(s.placeholders))
            )
        stdout.print(table)
        stdout.print("A custom style: --style custom:FILE.toml with name, instructions, fields (and user).")

    emit(state(ctx), data, render)


@annotate_app.command("runs")
def runs(
    ctx: typer.Context,
    project: ProjectOption = None,
    model: Annotated[str | None, typer.Option("-m", "--model", help="Only this model's runs.")] = None,
    style: Annotated[
        str | None, typer.Option("--style", help="Also list the images whose results this style made.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Runs to show.")] = 20,
) -> None:
    """Past annotation runs: usage per run (requests, input/output/thinking tokens) and style."""
    from lorairo.services.annotation_results import AnnotationResults

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        results = AnnotationResults(opened)
        rows = results.runs(model, limit)
        images = results.images_with_style(style) if style else None
    finally:
        opened.close()
    data: dict[str, Any] = {"runs": [row.to_dict() for row in rows]}
    if images is not None:
        data["style_images"] = images

    def render() -> None:
        table = Table("run", "model", "style", "started", "images", "requests", "in", "out", "thinking")
        for row in rows:
            table.add_row(
                str(row.id),
                row.model_name,
                f"{row.style_name}@{row.style_hash}" if row.style_name else "-",
                f"{row.started_at:%Y-%m-%d %H:%M}",
                f"{row.usage.images_annotated:,}",
                f"{row.usage.requests:,}",
                f"{row.usage.input_tokens:,}",
                f"{row.usage.output_tokens:,}",
                f"{row.usage.thinking_tokens:,}",
            )
        stdout.print(table)
        if images is not None:
            stdout.print(f"{len(images):,} images have results made with style {style!r}.")

    emit(cli, data, render)


@annotate_app.command("models")
def models(ctx: typer.Context) -> None:
    """List annotation models: type, local or API, installed or not, size on disk. A local server
    with no pinned models is asked for its list (NAME/<id>)."""
    from lorairo.annotations.ai_annotator import build_registry, get_available_annotator_models
    from lorairo.services.provider_service import add_discovered_models

    cli = state(ctx)
    registry = build_registry(cli.config)
    add_discovered_models(registry, cli.config)
    infos = get_available_annotator_models(registry)
    data: dict[str, Any] = {"models": [info.to_dict() for info in infos]}

    def render() -> None:
        longest = max((len(info.name) for info in infos), default=4)
        table = Table(
            Column("name", no_wrap=True, min_width=min(longest, MODEL_NAME_WIDTH)),
            Column("type", no_wrap=True),
            Column("where", no_wrap=True),
            Column("installed", no_wrap=True),
            Column("size", no_wrap=True),
            Column("source", overflow="fold"),
        )
        for info in infos:
            installed = "-" if info.installed is None else ("yes" if info.installed else "no")
            table.add_row(
                shorten_middle(info.name, MODEL_NAME_WIDTH),
                info.kind,
                "API" if info.is_api else "local",
                installed,
                _size(info.size_bytes),
                info.provider or info.model_path,
            )
        stdout.print(table)

    emit(cli, data, render)


@annotate_app.command("rethreshold")
def rethreshold(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("-m", "--model", help="Model whose stored tags to re-threshold.")],
    project: ProjectOption = None,
    general: Annotated[
        float | None, typer.Option("--general", min=0.0, max=1.0, help="Threshold for non-character tags.")
    ] = None,
    character: Annotated[
        float | None, typer.Option("--character", min=0.0, max=1.0, help="Threshold for character tags.")
    ] = None,
) -> None:
    """Re-apply thresholds to stored confidences, without running the model (manual edits kept).

    Only tags stored at or above the storage floor exist, so thresholds below it accept no more."""
    from lorairo.services.annotation_results import AnnotationResults

    if general is None and character is None:
        raise ValidationError("give --general and/or --character")
    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        counts = AnnotationResults(opened).rethreshold(model, general=general, character=character)
    finally:
        opened.close()
    data = counts.to_dict() | {"general": general, "character": character}
    emit(
        cli,
        data,
        lambda: stdout.print(
            f"{model}: {sum(counts.changed.values()):,} tags changed; "
            f"{counts.accepted:,} of {counts.stored:,} stored tags now accepted"
        ),
    )


@annotate_app.command("failures")
def failures(
    ctx: typer.Context,
    project: ProjectOption = None,
    model: Annotated[str | None, typer.Option("-m", "--model", help="Only this model's failures.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Rows to show.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Rows to skip.")] = 0,
) -> None:
    """List recorded annotation failures, newest first."""
    from lorairo.services.annotation_results import AnnotationResults

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        total, rows = AnnotationResults(opened).failures(model, limit=limit, offset=offset)
    finally:
        opened.close()
    data = {"total": total, "offset": offset, "failures": [row.to_dict() for row in rows]}

    def render() -> None:
        if not rows:
            stdout.print("No annotation failures recorded.")
            return
        table = Table("image", "model", "reason", "message", "when")
        for row in rows:
            table.add_row(
                f"{row.image_id} {row.image_name}",
                row.model_name,
                row.reason + (" (policy)" if row.is_policy_violation else ""),
                row.message or "",
                f"{row.failed_at:%Y-%m-%d %H:%M}",
            )
        stdout.print(table)
        if total > offset + len(rows):
            stdout.print(f"{total - offset - len(rows):,} more; use --offset {offset + len(rows)}")

    emit(cli, data, render)


@models_app.command("install")
def install(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="Model names (see `lorairo annotate models`).")],
) -> None:
    """Download local models now, so later runs work offline."""
    from lorairo.annotations.ai_annotator import build_registry, install_model

    cli = state(ctx)
    registry = build_registry(cli.config)
    installed = []
    for name in names:
        with progress_bar(f"Installing {name}", unit="files") as bar:
            installed.append(install_model(registry, name, bar))
    data = {"models": [info.to_dict() for info in installed]}

    def render() -> None:
        for info in installed:
            where = "API model, nothing to download" if info.is_api else _size(info.size_bytes)
            stdout.print(f"{info.name}: installed ({where})")

    emit(cli, data, render)
