"""`lorairo export ...`: create a training set from a project, preview one image, push to the Hub."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lorairo.cli.app import CliState, ProjectOption, export_app, state
from lorairo.cli.output import emit, progress_bar, stdout
from lorairo.cli.search_commands import open_with_resolver
from lorairo.errors import ValidationError
from lorairo.export.concepts import Concept, load_plan, parse_concept_args
from lorairo.export.options import (
    DEFAULT_QUALITY_BANDS,
    FORMATS,
    ExportOptions,
    parse_pairs,
    parse_quality_bands,
    parse_thresholds,
)

# Typing only: export loads Pillow, SQLAlchemy and huggingface_hub; each command imports what it runs.
if TYPE_CHECKING:
    from lorairo.export.lint import Finding


def _split(values: list[str] | str | None) -> list[str]:
    """Comma lists, also accepted as repeated options (`--format kohya --format hf`)."""
    items = [values] if isinstance(values, str) else values or []
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def _ids(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in _split(text))
    except ValueError as exc:
        raise ValidationError(f"--ids must be comma-separated image ids, got {text!r}") from exc


def _resolution(text: str) -> int | None:
    if text == "original":
        return None
    if not text.isdigit():
        raise ValidationError(f"--resolution must be 512, 768, 1024 or original, got {text!r}")
    return int(text)


def _concepts(values: dict[str, Any]) -> tuple[Concept, ...]:
    flags = [values.get(key) for key in ("concept", "repeats", "class_tokens", "reg", "concept_trigger")]
    plan: Path | None = values.get("plan")
    if plan is not None:
        if any(flags):
            raise ValidationError("give concepts either with --plan or with --concept flags, not both")
        return load_plan(plan.expanduser())
    if any(flags[1:]) and not flags[0]:
        raise ValidationError("--repeats, --class-tokens, --reg and --concept-trigger need a --concept")
    return parse_concept_args(*(list(flag or []) for flag in flags))


def build_options(**values: Any) -> ExportOptions:
    """CLI strings to validated options; the GUI builds `ExportOptions` directly."""
    return ExportOptions(
        target=values["output"],
        formats=tuple(_split(values["formats"]) or ["kohya"]),  # type: ignore[arg-type]
        query=values.get("query"),
        ids=_ids(values.get("ids")),
        resolution=_resolution(values["resolution"]),
        tags_from=tuple(_split(values["tags_from"])) if values["tags_from"] else None,
        thresholds=parse_thresholds(values["threshold"] or ""),
        max_tags=values["max_tags"],
        order=values["order"],
        character_first=values["character_first"],
        trigger=tuple(_split(values["trigger"])),
        keep_tokens=values["keep_tokens"],
        keep_tokens_separator=values["keep_tokens_separator"],
        rating_tag=values["rating_tag"],
        quality_tags=values["quality_tags"],
        quality_bands=parse_quality_bands(values["quality_bands"])
        if values["quality_bands"]
        else DEFAULT_QUALITY_BANDS,
        underscores=values["underscores"],
        escape_parens=values["escape_parens"],
        drop_meta=values["drop_meta"],
        exclude_tags=tuple(_split(values["exclude_tags"])),
        replace_tags=parse_pairs(values["replace_tags"] or "", "--replace-tags"),
        caption=values["caption"],
        text_mode=values["text"],
        full_path=values["full_path"],
        naming=values["name"],
        link=values["link"],
        image_format=values["image_format"],
        dataset_toml=values["dataset_toml"],
        num_repeats=values["num_repeats"],
        overwrite=values["overwrite"],
        concepts=_concepts(values),
        keep_originals=values.get("keep_originals", False),
        trigger_placeholder=values.get("trigger_placeholder", False),
        simpletuner_captions=values.get("simpletuner_captions", "textfile"),
        hf_parquet=values.get("hf_parquet", False),
    )


FormatOption = Annotated[
    list[str] | None,
    typer.Option(
        "--format", "-f", help=f"Output format(s), repeatable or comma-separated: {', '.join(FORMATS)}."
    ),
]
IdsOption = Annotated[str | None, typer.Option("--ids", help="Only these image ids (comma-separated).")]
ResolutionOption = Annotated[
    str, typer.Option("--resolution", help="512, 768, 1024 (processed copies) or original.")
]
TagsFromOption = Annotated[
    str | None, typer.Option("--tags-from", help="Models to take tags from (comma-separated; default all).")
]
ThresholdOption = Annotated[
    str | None,
    typer.Option("--threshold", help="Per-category minimum confidence, e.g. general=0.4,character=0.8."),
]
MaxTagsOption = Annotated[int | None, typer.Option("--max-tags", help="Keep at most N tags per image.")]
OrderOption = Annotated[
    str,
    typer.Option(
        "--order",
        help="manual (tags ordered by hand first, then by confidence), confidence, frequency or alphabet.",
    ),
]
CharacterFirstOption = Annotated[
    bool, typer.Option("--character-first", help="Character tags before others.")
]
TriggerOption = Annotated[
    str | None,
    typer.Option("--trigger", help='Trigger words put first, e.g. "ohwx woman" (comma-separated).'),
]
KeepTokensOption = Annotated[
    int | None, typer.Option("--keep-tokens", help="kohya keep_tokens (default: number of trigger words).")
]
SeparatorOption = Annotated[
    bool, typer.Option("--keep-tokens-separator", help="Split the fixed prefix off with kohya's '|||'.")
]
RatingTagOption = Annotated[
    bool, typer.Option("--rating-tag", help="Add rating:<rating> after the triggers.")
]
QualityTagsOption = Annotated[
    bool, typer.Option("--quality-tags", help="Add a quality tag from the score band.")
]
QualityBandsOption = Annotated[
    str | None,
    typer.Option(
        "--quality-bands", help="Bands on a 0-10 scale, e.g. '8=masterpiece,6=best quality,0=normal quality'."
    ),
]
UnderscoresOption = Annotated[bool, typer.Option("--underscores", help="long_hair instead of long hair.")]
EscapeOption = Annotated[bool, typer.Option("--escape-parens", help=r"Write \( \) as prompts expect.")]
DropMetaOption = Annotated[bool, typer.Option("--drop-meta", help="Leave out meta-category tags.")]
ExcludeOption = Annotated[
    str | None, typer.Option("--exclude-tags", help="Tags left out of this export only (comma-separated).")
]
ReplaceOption = Annotated[
    str | None, typer.Option("--replace-tags", help="Renames for this export only, e.g. 'a=b,c=d'.")
]
CaptionOption = Annotated[
    str, typer.Option("--caption", help="manual (default), newest, none or a model name.")
]
TextOption = Annotated[
    str,
    typer.Option("--text", help="kohya sidecars: tags (.txt + .caption), caption (.caption only) or append."),
]


@export_app.command("create")
def create(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Argument(help="Search query selecting images (default: all).")] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Target folder (default: export_dir/<project>-<time>)."),
    ] = None,
    project: ProjectOption = None,
    formats: FormatOption = None,
    ids: IdsOption = None,
    dataset_toml: Annotated[
        bool, typer.Option("--dataset-toml", help="Also write a kohya dataset config.")
    ] = False,
    resolution: ResolutionOption = "original",
    tags_from: TagsFromOption = None,
    threshold: ThresholdOption = None,
    max_tags: MaxTagsOption = None,
    order: OrderOption = "manual",
    character_first: CharacterFirstOption = False,
    trigger: TriggerOption = None,
    keep_tokens: KeepTokensOption = None,
    keep_tokens_separator: SeparatorOption = False,
    rating_tag: RatingTagOption = False,
    quality_tags: QualityTagsOption = False,
    quality_bands: QualityBandsOption = None,
    underscores: UnderscoresOption = False,
    escape_parens: EscapeOption = False,
    drop_meta: DropMetaOption = False,
    exclude_tags: ExcludeOption = None,
    replace_tags: ReplaceOption = None,
    caption: CaptionOption = "manual",
    text: TextOption = "tags",
    full_path: Annotated[
        bool, typer.Option("--full-path", help="Absolute image paths in JSON/JSONL.")
    ] = False,
    name: Annotated[str, typer.Option("--name", help="File names: stem, id or sequence.")] = "stem",
    link: Annotated[bool, typer.Option("--link", help="Hard-link images instead of copying.")] = False,
    image_format: Annotated[
        str | None, typer.Option("--image-format", help="Re-encode images: webp, png or jpg.")
    ] = None,
    num_repeats: Annotated[int, typer.Option("--num-repeats", help="num_repeats in the dataset config.")] = 1,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace what a previous export wrote in the target.")
    ] = False,
    concept: Annotated[
        list[str] | None,
        typer.Option("--concept", help='A named subset, "NAME=QUERY" (repeatable); replaces the query.'),
    ] = None,
    repeats: Annotated[
        list[str] | None, typer.Option("--repeats", help="Repeats of a concept, NAME=N (repeatable).")
    ] = None,
    class_tokens: Annotated[
        list[str] | None,
        typer.Option("--class-tokens", help='Class tokens of a concept, NAME="woman" (repeatable).'),
    ] = None,
    reg: Annotated[
        list[str] | None, typer.Option("--reg", help="Mark concept NAME as regularisation (repeatable).")
    ] = None,
    concept_trigger: Annotated[
        list[str] | None,
        typer.Option("--concept-trigger", help="Trigger words of one concept, NAME=WORDS (repeatable)."),
    ] = None,
    plan: Annotated[
        Path | None, typer.Option("--plan", help="A TOML file of [[concept]] tables instead of --concept.")
    ] = None,
    keep_originals: Annotated[
        bool,
        typer.Option(
            "--keep-originals", help="Copy originals byte for byte even where a trainer misreads them."
        ),
    ] = False,
    trigger_placeholder: Annotated[
        bool,
        typer.Option(
            "--trigger-placeholder", help="ai-toolkit: write [trigger] instead of the trigger words."
        ),
    ] = False,
    simpletuner_captions: Annotated[
        str,
        typer.Option(
            "--simpletuner-captions",
            help="simpletuner: textfile (.txt sidecars) or parquet (a JSONL table with sizes).",
        ),
    ] = "textfile",
    hf_parquet: Annotated[
        bool, typer.Option("--hf-parquet", help="hf: also parquet shards with the images embedded (data/).")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Only run the pre-flight lint; write nothing.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Lint findings are errors: nothing is written when any.")
    ] = False,
) -> None:
    """Export images with their tags and captions as a training set (written atomically)."""
    from lorairo.services.export_service import ExportService

    options = build_options(
        **{key: value for key, value in locals().items() if key not in {"ctx", "project", "check", "strict"}}
    )
    cli = state(ctx)
    if check:
        _check(cli, project, options, strict=strict)
        return
    with open_with_resolver(cli, project) as (opened, resolver):
        service = ExportService(opened, cli.config, resolver)
        with progress_bar("Exporting") as progress:
            report = service.export(options, progress, strict=strict)
    data = report.to_dict()

    def render() -> None:
        stdout.print(f"Exported {report.exported:,} images to {report.target} in {report.seconds:.1f}s")
        for reason, count in report.skipped.items():
            stdout.print(f"  skipped {count:,}: {reason}")
        if report.converted:
            stdout.print(f"  converted {report.converted:,} images to training-safe files")
        _print_findings(report.lint)
        if report.tags_per_image:
            spread = report.tags_per_image
            stdout.print(
                f"  tags per image: min {spread['min']}, median {spread['median']}, max {spread['max']}"
            )
        if report.top_tags:
            table = Table("tag", "images", title="Top tags")
            for tag, count in report.top_tags[:10]:
                table.add_row(tag, f"{count:,}")
            stdout.print(table)

    emit(cli, data, render)


def _print_findings(findings: list[Finding]) -> None:
    if not findings:
        return
    table = Table("check", "concept", "image", "detail", title=f"Lint: {len(findings)} warning(s)")
    for finding in findings:
        image = "" if finding.image_id is None else str(finding.image_id)
        table.add_row(finding.code, finding.concept, image, finding.detail)
    stdout.print(table)


def _check(cli: CliState, project: str | None, options: ExportOptions, *, strict: bool) -> None:
    """`--check`: lint only; with `--strict`, findings are an error (exit 2, the data set needs fixing)."""
    from lorairo.services.export_service import ExportService

    with open_with_resolver(cli, project) as (opened, resolver):
        findings = ExportService(opened, cli.config, resolver).lint(options)
    if strict and findings:
        codes = Counter(finding.code for finding in findings)
        summary = ", ".join(f"{count} {code}" for code, count in codes.items())
        raise ValidationError(
            f"--strict: the lint found {summary} (run --check without --strict to list them)"
        )
    emit(
        cli,
        {"findings": [finding.to_dict() for finding in findings], "count": len(findings)},
        lambda: _print_findings(findings) if findings else stdout.print("Lint: no findings"),
    )


@export_app.command("preview")
def preview(
    ctx: typer.Context,
    image_id: Annotated[int, typer.Argument(help="Image id.")],
    project: ProjectOption = None,
    tags_from: TagsFromOption = None,
    threshold: ThresholdOption = None,
    max_tags: MaxTagsOption = None,
    order: OrderOption = "manual",
    character_first: CharacterFirstOption = False,
    trigger: TriggerOption = None,
    keep_tokens_separator: SeparatorOption = False,
    rating_tag: RatingTagOption = False,
    quality_tags: QualityTagsOption = False,
    quality_bands: QualityBandsOption = None,
    underscores: UnderscoresOption = False,
    escape_parens: EscapeOption = False,
    drop_meta: DropMetaOption = False,
    exclude_tags: ExcludeOption = None,
    replace_tags: ReplaceOption = None,
    caption: CaptionOption = "manual",
    text: TextOption = "tags",
) -> None:
    """Show the sidecar text one image would get, without writing anything."""
    from lorairo.services.export_service import ExportService

    values = {key: value for key, value in locals().items() if key not in {"ctx", "project", "image_id"}}
    options = build_options(
        output=None,
        formats=None,
        resolution="original",
        keep_tokens=None,
        full_path=False,
        name="stem",
        link=False,
        image_format=None,
        dataset_toml=False,
        num_repeats=1,
        overwrite=False,
        **values,
    )
    cli = state(ctx)
    opened = cli.open_project(project)
    try:
        result = ExportService(opened, cli.config).preview(image_id, options)
    finally:
        opened.close()

    def render() -> None:
        if result.skip_reason:
            stdout.print(f"Image {image_id} would be skipped: {result.skip_reason}")
            return
        stdout.print(f"[bold]{result.extension}[/bold] {result.text}", markup=True, highlight=False)
        if result.caption:
            stdout.print(f"[bold].caption[/bold] {result.caption}", markup=True, highlight=False)

    emit(cli, result.to_dict(), render)


@export_app.command("push")
def push(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="An export folder written with --format hf.")],
    repo: Annotated[
        str | None, typer.Option("--repo", help="USER/NAME (default: [huggingface] hf_username/repo_name).")
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the dataset repo as private.")] = False,
) -> None:
    """Upload an hf export to the Hugging Face Hub as a dataset (re-run to resume)."""
    from lorairo.export.hub import push_to_hub

    cli = state(ctx)
    settings = cli.config.config.huggingface
    if repo is None:
        if not (settings.hf_username and settings.repo_name):
            raise ValidationError("give --repo USER/NAME or set [huggingface] hf_username and repo_name")
        repo = f"{settings.hf_username}/{settings.repo_name}"
    report = push_to_hub(folder.expanduser(), repo, token=settings.token or None, private=private)
    emit(
        cli,
        report.to_dict(),
        lambda: stdout.print(f"Pushed {report.images:,} images to {report.repo_url} ({report.commit_url})"),
    )
