"""`lorairo worker` (take queued annotation work) and `lorairo workers` (who is working)."""

from __future__ import annotations

import signal
import time
from typing import Annotated

import typer
from rich.table import Table

from lorairo.cli.app import ProjectOption, app, state
from lorairo.cli.output import emit, progress_bar, stdout
from lorairo.services.choices import DEFAULT_LEASE_SECONDS
from lorairo.services.progress import CancelToken

LeaseOption = Annotated[
    float,
    typer.Option(
        "--lease",
        min=1.0,
        help="Seconds a silent worker keeps its batch before another may take it (all workers "
        "of a project should agree).",
    ),
]


@app.command("worker")
def worker(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("-m", "--model", help="The model this worker runs.")],
    project: ProjectOption = None,
    batch: Annotated[int, typer.Option("--batch", min=1, max=1024, help="Images per inference call.")] = 32,
    lease: LeaseOption = DEFAULT_LEASE_SECONDS,
    until_empty: Annotated[
        bool, typer.Option("--until-empty", help="Exit once the model's queue has no open work.")
    ] = False,
    poll: Annotated[
        float, typer.Option("--poll", min=0.05, help="Seconds between looks at an empty queue.")
    ] = 2.0,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=0,
            max=256,
            help="Cores this worker uses for inference and decoding (0 = all; default: "
            "[annotation] threads). Several workers on one CPU machine: cores / workers each.",
        ),
    ] = None,
) -> None:
    """Annotate work queued by `annotate run --distributed`, on any machine that reaches the
    project's database and images. Ctrl-C (or SIGTERM) hands the batch in hand back at once."""
    from lorairo.services.annotation_service import AnnotationService

    cli = state(ctx)
    if threads is not None:
        cli.config.share_cores(threads)
    opened = cli.open_project(project)
    cancel = CancelToken()
    # Put back what was there: a worker run in-process (tests, scripts) must not leave its token's
    # handler behind for the next command's Ctrl-C.
    previous = {
        sig: signal.signal(sig, lambda *_: cancel.cancel()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        service = AnnotationService(opened, cli.config, lease_seconds=lease)
        with progress_bar(f"Worker {model}") as bar:
            report = service.work(
                model, batch, progress=bar, cancel=cancel, until_empty=until_empty, poll_seconds=poll
            )
    finally:
        opened.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    data = report.to_dict() | {"worker": service.claims.owner}

    def render() -> None:
        rate = report.images_annotated / report.elapsed_seconds if report.elapsed_seconds else 0.0
        stdout.print(
            f"Worker {service.claims.owner}: {report.images_annotated:,} images annotated, "
            f"{report.failures:,} failed ({rate:.1f} images/s)"
        )

    emit(cli, data, render)


@app.command("workers")
def workers(
    ctx: typer.Context,
    project: ProjectOption = None,
    lease: LeaseOption = DEFAULT_LEASE_SECONDS,
    all_workers: Annotated[bool, typer.Option("--all", help="Also stopped and silent workers.")] = False,
) -> None:
    """Workers with a recent heartbeat, what they run and their throughput."""
    from lorairo.services.annotation_service import AnnotationService

    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        rows = AnnotationService(opened, cli.config, lease_seconds=lease).live_workers(
            include_stopped=all_workers
        )
    finally:
        opened.close()

    def render() -> None:
        if not rows:
            stdout.print("No live workers.")
            return
        table = Table("worker", "model", "images", "batches", "images/s", "last heartbeat")
        now = time.time()
        for row in rows:
            table.add_row(
                row.id + (" (stopped)" if row.stopped else ""),
                row.model_name,
                f"{row.images_done:,}",
                f"{row.batches_done:,}",
                f"{row.images_per_second:.1f}",
                f"{now - row.heartbeat_at:.0f} s ago",
            )
        stdout.print(table)

    emit(cli, {"workers": [row.to_dict() for row in rows]}, render)
