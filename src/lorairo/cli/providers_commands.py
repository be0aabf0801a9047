"""`lorairo providers add|list|models`: vision-LLM servers and cloud accounts in one step."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from lorairo.cli.app import app, state
from lorairo.cli.output import emit, stdout
from lorairo.services.choices import suggestions

# The provider service loads the provider SDKs: each command imports it when it runs.

providers_app = typer.Typer(
    help="Vision-LLM providers: add a local server, list providers, read their models.",
    no_args_is_help=True,
)
app.add_typer(providers_app, name="providers")


def _vision(flag: bool | None) -> str:
    return "-" if flag is None else ("yes" if flag else "no")


@providers_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Provider name; its models are called NAME/<model id>.")],
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help=f"Server base URL, or a well-known server's name. Defaults (not probed): {suggestions()}.",
        ),
    ],
    key_env: Annotated[
        str | None, typer.Option("--key-env", help="Environment variable holding the key (if any).")
    ] = None,
) -> None:
    """Write [ai_providers.NAME] for an OpenAI-compatible server (Ollama, LM Studio, vLLM, llama.cpp)."""
    from lorairo.services.provider_service import ProviderService

    cli = state(ctx)
    added = ProviderService(cli.config).add(name, url, key_env)

    def render() -> None:
        stdout.print(f"Added provider {name!r} at {added['base_url']} to {cli.config.path}.")
        stdout.print(f"`lorairo providers models {name}` lists what it serves.")

    emit(cli, added, render)


@providers_app.command("list")
def list_providers(
    ctx: typer.Context,
    offline: Annotated[
        bool, typer.Option("--offline", help="Only show the configuration; contact nothing.")
    ] = False,
) -> None:
    """Each provider, whether it is reachable, and its models (providers without a key are not contacted)."""
    from lorairo.services.provider_service import ProviderService

    cli = state(ctx)
    statuses = ProviderService(cli.config).list(contact=not offline)
    data = {"providers": [status.to_dict() for status in statuses]}

    def render() -> None:
        table = Table("name", "kind", "url", "key", "reachable", "models")
        for status in statuses:
            reachable = {None: "-", True: "yes", False: "no"}[status.reachable]
            models = [m.id for m in status.models] or status.pinned
            shown = ", ".join(models[:6]) + (f" (+{len(models) - 6})" if len(models) > 6 else "")
            table.add_row(
                status.name,
                status.kind,
                status.base_url or "(default)",
                status.key,
                reachable,
                escape(shown),
            )
        stdout.print(table)
        for status in statuses:
            if status.error:
                stdout.print(f"{status.name}: {escape(status.error)}")
        if not any(status.kind == "openai-compatible" for status in statuses):
            stdout.print(f"Add a local server with `lorairo providers add NAME --url URL` ({suggestions()}).")

    emit(cli, data, render)


@providers_app.command("models")
def models(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Provider name.")]) -> None:
    """The models the provider serves (its own list), marking vision-capable ones where it says so."""
    from lorairo.services.provider_service import ProviderService

    cli = state(ctx)
    found = ProviderService(cli.config).models(name)
    data = {
        "provider": name,
        "source": found.source,
        "parallel_slots": found.parallel_slots,
        "models": [model.to_dict() | {"name": f"{name}/{model.id}"} for model in found.models],
    }

    def render() -> None:
        table = Table("model", "vision")
        for model in found.models:
            table.add_row(escape(f"{name}/{model.id}"), _vision(model.vision))
        stdout.print(table)
        slots = f"; {found.parallel_slots} parallel slots" if found.parallel_slots else ""
        stdout.print(
            f"{len(found.models)} models from {found.source}{slots}. vision: '-' = the server does not say."
        )

    emit(cli, data, render)
