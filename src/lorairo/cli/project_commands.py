"""`lorairo project ...`: create, list, info, delete."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from lorairo.cli.app import project_app, state
from lorairo.cli.output import emit, stdout
from lorairo.errors import ValidationError


@project_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Project name.")],
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Keep the project in PostgreSQL: postgresql+psycopg://user@host/db "
            "(default: [database] url or LORAIRO_DATABASE_URL, else a SQLite file).",
        ),
    ] = None,
) -> None:
    """Create a project (database at the latest migration plus an images folder)."""
    cli = state(ctx)
    existed = cli.projects.exists(name)
    project = cli.projects.create(name, database_url=database_url)
    project.close()
    data = {
        "name": name,
        "created": not existed,
        "root": str(project.root),
        "engine": project.database.dialect,
        "database_path": str(project.database_path) if project.database.path else project.database_location,
        "images_dir": str(project.images_dir),
    }
    emit(
        cli,
        data,
        lambda: stdout.print(
            f"{'Opened existing' if existed else 'Created'} project {name} at {project.root}"
        ),
    )


@project_app.command("migrate")
def migrate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Project name.")],
    to: Annotated[
        str,
        typer.Option("--to", help="postgresql+psycopg://user@host/db, or `sqlite` to come back to a file."),
    ],
) -> None:
    """Copy a project to PostgreSQL (or back to SQLite), verify every table, switch to the copy.

    The source database is never deleted; on any difference nothing is switched."""
    cli = state(ctx)
    data = cli.projects.migrate(name, to)
    rows = data["rows"]
    assert isinstance(rows, dict)
    emit(
        cli,
        data,
        lambda: stdout.print(f"Copied {sum(rows.values()):,} rows of {name} to {data['to']}; verified"),
    )


@project_app.command("list")
def list_projects(ctx: typer.Context) -> None:
    """List the projects under the database directory."""
    cli = state(ctx)
    names = cli.projects.list()
    data = {"database_dir": str(cli.projects.root), "projects": names}

    def render() -> None:
        if not names:
            stdout.print(f"No projects in {cli.projects.root}")
        for name in names:
            stdout.print(name)

    emit(cli, data, render)


@project_app.command("info")
def info(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Project name.")]) -> None:
    """Show a project's paths, schema revision and row counts."""
    cli = state(ctx)
    details = cli.projects.info(name)
    data = details.to_dict()

    def render() -> None:
        table = Table(show_header=False, box=None)
        for key in ("name", "root", "database_path", "revision"):
            table.add_row(key, str(data[key]))
        for key, value in details.counts.to_dict().items():
            table.add_row(key, f"{value:,}")
        table.add_row("disk", f"{details.disk_bytes / 1e6:.1f} MB")
        stdout.print(table)

    emit(cli, data, render)


@project_app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Project name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm; without it nothing is deleted.")] = False,
) -> None:
    """Move a project to the trash folder under the database directory (restorable by moving it back)."""
    cli = state(ctx)
    if not yes:
        raise ValidationError(f"refusing to delete project {name!r} without --yes")
    trash = cli.projects.delete(name)
    emit(cli, {"name": name, "moved_to": str(trash)}, lambda: stdout.print(f"Moved {name} to {trash}"))
