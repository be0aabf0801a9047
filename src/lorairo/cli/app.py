"""The root Typer app, its command groups and the global options every command shares.

Command modules attach themselves to the groups defined here (`@images_app.command(...)`), so
each feature keeps its commands in its own module; `lorairo.cli.main` imports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the services load pydantic and SQLAlchemy: only a command that runs pays for them
    from lorairo.services.configuration_service import ConfigurationService
    from lorairo.services.project_service import Project, ProjectService

app = typer.Typer(
    name="lorairo",
    help="LoRAIro: turn folders of images into clean, annotated LoRA training sets.",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _group(parent: typer.Typer, name: str, help_text: str) -> typer.Typer:
    group = typer.Typer(help=help_text, no_args_is_help=True)
    parent.add_typer(group, name=name)
    return group


project_app = _group(app, "project", "Create, list, inspect and delete projects.")
config_app = _group(app, "config", "Show and change settings in lorairo.toml (keys always masked).")
images_app = _group(app, "images", "Register, process, search and inspect images.")
annotate_app = _group(app, "annotate", "Run taggers, scorers and vision LLMs; review failures.")
annotate_batch_app = _group(
    annotate_app, "batch", "OpenAI, Anthropic and Gemini batches: submit, poll, import."
)
models_app = _group(app, "models", "Install annotation models ahead of time.")
tags_app = _group(app, "tags", "Tag statistics, bulk tag edits and the tag database.")
tags_db_app = _group(tags_app, "db", "Import or install the tag database.")
tags_alias_app = _group(tags_app, "alias", "User aliases (kept when the base tag database is replaced).")
edits_app = _group(app, "edits", "The edit log: list and undo bulk edits.")
export_app = _group(app, "export", "Export training sets (kohya, JSON, JSONL, Hugging Face).")

ProjectOption = Annotated[
    str | None,
    typer.Option("-p", "--project", help="Project name (default: [directories] database_project_name)."),
]


@dataclass
class CliState:
    """Global options plus lazily built services shared by one command invocation."""

    json: bool = False
    debug: bool = False
    config_path: Path | None = None
    _config: ConfigurationService | None = field(default=None, repr=False)

    @property
    def config(self) -> ConfigurationService:
        if self._config is None:
            from lorairo.services.configuration_service import ConfigurationService
            from lorairo.utils.log import setup_logging

            self._config = ConfigurationService(self.config_path)
            log = self._config.config.log
            setup_logging(
                level="DEBUG" if self.debug else log.level,
                stderr_level="DEBUG" if self.debug else "WARNING",
                file_path=self._config.log_file,
                rotation=log.rotation,
                retention=log.retention,
            )
        return self._config

    @property
    def projects(self) -> ProjectService:
        from lorairo.services.project_service import ProjectService

        return ProjectService(self.config)

    def open_project(self, name: str | None) -> Project:
        return self.projects.open(name)


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


@app.callback()
def _global_options(
    ctx: typer.Context,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout; logs go to stderr.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Configuration file (default: LORAIRO_CONFIG_PATH or user dir)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Verbose logs and full tracebacks.")] = False,
) -> None:
    ctx.obj = CliState(json=json_output, debug=debug, config_path=config)
