"""`lorairo annotate batch submit|status|import`: OpenAI, Anthropic and Gemini batches (about half
price, results within 24 h)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lorairo.cli.annotate_commands import parse_ids
from lorairo.cli.app import ProjectOption, annotate_batch_app, state
from lorairo.cli.output import emit, progress_bar, stdout
from lorairo.services.choices import MAX_REQUESTS

if TYPE_CHECKING:  # the batch service loads the provider SDKs: each command imports it when it runs
    from lorairo.services.batch_service import BatchImportReport


@annotate_batch_app.command("submit")
def submit(
    ctx: typer.Context,
    model: Annotated[
        str,
        typer.Option(
            "-m", "--model", help="openai/, anthropic/ or google/<model>, e.g. anthropic/claude-sonnet-5-5."
        ),
    ],
    project: ProjectOption = None,
    ids: Annotated[
        str | None, typer.Option("--ids", help="Image ids, e.g. 1,2,10-20 (default: missing).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_REQUESTS, help="At most this many requests.")
    ] = MAX_REQUESTS,
    retry_violations: Annotated[
        bool, typer.Option("--retry-violations", help="Include images this model refused before.")
    ] = False,
) -> None:
    """Write the request JSONL for images the model lacks, upload it and create the batch."""
    from lorairo.services.batch_service import BatchAnnotationService

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        service = BatchAnnotationService(opened, cli.config)
        with progress_bar("Writing requests") as bar:
            report = service.submit(
                model,
                parse_ids(ids) if ids is not None else "missing",
                limit=limit,
                retry_violations=retry_violations,
                progress=bar,
            )
    finally:
        opened.close()

    def render() -> None:
        if report.job is None:
            stdout.print(f"{model}: nothing to submit ({report.violations_skipped} refused images skipped)")
            return
        stdout.print(
            f"Submitted batch {report.job['remote_id']} (job {report.job['id']}): {report.requests:,} requests "
            f"for {model}; {report.violations_skipped} refused images skipped, {report.unreadable} unreadable."
        )
        stdout.print(
            "Check with `lorairo annotate batch status`; import with `lorairo annotate batch import`."
        )

    emit(cli, report.to_dict(), render)


@annotate_batch_app.command("status")
def status(
    ctx: typer.Context,
    job: Annotated[int | None, typer.Argument(help="Job id (default: every job not yet imported).")] = None,
    project: ProjectOption = None,
) -> None:
    """Poll batches; completed results are downloaded into [directories] batch_results_dir."""
    from lorairo.services.batch_service import BatchAnnotationService

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        report = BatchAnnotationService(opened, cli.config).status(job)
    finally:
        opened.close()

    def render() -> None:
        if not report.jobs:
            stdout.print("No batch jobs waiting for import.")
            return
        table = Table("job", "batch", "model", "requests", "status", "results", "imported")
        for row in report.jobs:
            table.add_row(
                str(row["id"]),
                str(row["remote_id"]),
                str(row["model_name"]),
                f"{row['request_count']:,}",
                str(row["status"]),
                str(row["result_file"] or "-"),
                str(row["imported_at"] or "-"),
            )
        stdout.print(table)

    emit(cli, report.to_dict(), render)


@annotate_batch_app.command("import")
def import_results(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(help="Result JSONL (default: every finished job not yet imported).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("-m", "--model", help="Model the file belongs to, if no job knows it.")
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Store batch results matched to images by custom id; importing a file twice changes nothing."""
    from lorairo.services.batch_service import BatchAnnotationService

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        service = BatchAnnotationService(opened, cli.config)
        with progress_bar("Importing", unit="results") as bar:
            reports: list[BatchImportReport] = (
                [service.import_file(file, model, progress=bar)]
                if file is not None
                else service.import_pending(progress=bar)
            )
    finally:
        opened.close()

    def render() -> None:
        if not reports:
            stdout.print("No finished batch results to import.")
        for report in reports:
            stdout.print(
                f"{Path(report.file).name} ({report.model}): {report.annotated:,} annotated, "
                f"{report.failures:,} failed ({report.policy_violations:,} policy violations), "
                f"{report.already_stored:,} already stored, {report.unmatched:,} unmatched; "
                f"tokens {report.input_tokens:,} in / {report.output_tokens:,} out"
            )

    emit(cli, {"imports": [report.to_dict() for report in reports]}, render)
