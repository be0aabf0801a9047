"""`lorairo config ...`: show the effective settings (masked) and change one setting."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lorairo.cli.app import config_app, state
from lorairo.cli.output import emit, stdout
from lorairo.errors import ValidationError


@config_app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the effective configuration and every folder LoRAIro uses, overrides applied, secrets masked."""
    from image_annotator_lib.model_files import hub_cache_dir  # loads huggingface_hub

    cli = state(ctx)
    config = cli.config
    paths = {
        "config": config.path,
        "projects": config.database_dir,
        "exports": config.export_dir,
        "batch_results": config.batch_results_dir,
        "tag_db": config.tag_db_dir,
        "log_file": config.log_file,
        "model_cache": hub_cache_dir(),
    }
    data = {
        "path": str(config.path),
        "paths": {name: str(path) for name, path in paths.items()},
        "settings": config.masked_dict(),
    }
    emit(cli, data)


@config_app.command("set")
def set_value(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="SECTION.KEY, e.g. log.level or ai_providers.local.base_url")],
    value: Annotated[str, typer.Argument(help="New value; JSON literals (numbers, true, lists) are parsed.")],
) -> None:
    """Validate and save one setting, keeping the file's comments."""
    cli = state(ctx)
    section, _, name = key.rpartition(".")
    if not section or not name:
        raise ValidationError(f"expected SECTION.KEY, got {key!r}")
    try:
        parsed: object = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    cli.config.update_setting(section, name, parsed)
    emit(
        cli,
        {"path": str(cli.config.path), "key": key, "saved": True},
        lambda: stdout.print(f"Saved {key} in {cli.config.path}"),
    )
