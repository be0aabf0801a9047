"""Pre-flight lint on a seeded bad dataset, `--strict`, concept flags and plan files on the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lorairo.errors import ValidationError
from lorairo.export.concepts import Concept, load_plan
from lorairo.export.lint import Finding
from lorairo.export.options import ExportOptions
from lorairo.export.tokens import estimate_tokens, tokenizer_counter
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.export_service import ExportService
from tests.export.builders import Builder
from tests.export.cli_helpers import cli
from tests.export.trainer_data import make_trainer_data

LONG_TAGS = [f"tag{index:02d}" for index in range(80)]


def seed_bad(builder: Builder) -> dict[str, int]:
    """One image per problem, plus a clean one; `1girl` is on every image that has tags."""
    ids = {
        "clean": builder.image("s", "clean.jpg", seed=1, size=(600, 600)),
        "no_trigger": builder.image("s", "no_trigger.jpg", seed=2, size=(600, 400)),
        "small": builder.image("s", "small.jpg", seed=3, size=(100, 80)),
        "empty": builder.image("s", "empty.jpg", seed=4, size=(600, 600)),
        "long": builder.image("s", "long.jpg", seed=5, size=(520, 600)),
    }
    for name in ("clean", "no_trigger", "small", "long"):
        builder.tag(ids[name], "1girl", model="wd-tagger", confidence=0.99)
    builder.tag(ids["clean"], "solo", model="wd-tagger", confidence=0.9)
    builder.caption(ids["clean"], "ohwx girl smiling")
    builder.tag(ids["no_trigger"], "long hair", model="wd-tagger", confidence=0.9)
    builder.caption(ids["no_trigger"], "a girl")
    for index, tag in enumerate(LONG_TAGS):
        builder.tag(ids["long"], tag, model="wd-tagger", confidence=0.9 - index / 1000)
    return ids


OPTIONS: dict[str, Any] = {
    "formats": ("kohya",),
    "trigger": ("ohwx",),
    "resolution": 512,
    "concepts": (Concept(name="people", query="all", class_tokens="person"),),
}


def test_lint_findings_on_a_seeded_bad_dataset(
    builder: Builder, config: ConfigurationService, tmp_path: Path
) -> None:
    ids = seed_bad(builder)
    service = ExportService(builder.project, config, token_counter=estimate_tokens)
    findings = service.lint(ExportOptions(target=tmp_path / "never", **OPTIONS))
    long_text = ", ".join(["ohwx", "1girl", *LONG_TAGS])
    assert findings == [
        Finding("trigger_missing", "people", ids["no_trigger"], "caption lacks ohwx"),
        Finding("too_small", "people", ids["small"], "100x80 < 512"),
        Finding("no_text", "people", ids["empty"], "no caption or accepted tag (no accepted tags)"),
        Finding("clip_overflow", "people", ids["long"], f"{estimate_tokens(long_text)} tokens (given) > 75"),
        Finding("same_tag_everywhere", "people", None, "1girl is on all 4 images"),
        Finding(
            "class_tokens_ignored",
            "people",
            None,
            "kohya ignores class tokens 'person': every image has a caption file",
        ),
    ]
    assert not (tmp_path / "never").exists()
    # the same findings ride along in a normal export's report, as warnings
    report = service.export(ExportOptions(target=tmp_path / "out", **OPTIONS))
    assert report.lint == findings and report.exported == 4
    assert report.lint_counts == {
        "trigger_missing": 1,
        "too_small": 1,
        "no_text": 1,
        "clip_overflow": 1,
        "same_tag_everywhere": 1,
        "class_tokens_ignored": 1,
    }
    with pytest.raises(ValidationError, match="--strict"):
        service.export(ExportOptions(target=tmp_path / "strict", **OPTIONS), strict=True)
    assert not (tmp_path / "strict").exists()
    assert {p.name for p in tmp_path.iterdir()} == {"out", "lorairo-home"}


def test_token_estimate() -> None:
    assert estimate_tokens("1girl, long hair") == 5  # 1 | girl | , | long | hair: digits split off
    assert estimate_tokens("a " * 80) == 80


def test_rating_tag_is_kept_in_front() -> None:
    options = ExportOptions(trigger=("ohwx", "woman"), rating_tag=True)
    assert options.effective_keep_tokens == 3
    assert ExportOptions(trigger=("ohwx",)).effective_keep_tokens == 1
    assert ExportOptions(trigger=("ohwx",), rating_tag=True, keep_tokens=5).effective_keep_tokens == 5


def test_cli_concepts_plan_check_and_strict(
    builder: Builder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_trainer_data(builder)
    flags = [
        "--concept", "miku=tag:hatsune_miku", "--concept", "women=tag:woman",
        "--repeats", "miku=10", "--class-tokens", "miku=ohwx girl", "--class-tokens", "women=woman",
        "--reg", "women", "--concept-trigger", "miku=ohwx",
    ]  # fmt: skip
    base = ["export", "create", "-p", "demo", "--format", "kohya"]
    code, data = cli(capsys, *base, "-o", str(tmp_path / "flags"), *flags)
    assert code == 0 and data["concepts"] == {"miku": 3, "women": 3}
    assert (tmp_path / "flags/10_ohwx girl/m_deep.txt").read_text() == "ohwx, 1girl, hatsune miku, solo\n"
    assert (tmp_path / "flags/reg/1_woman/w_odd.txt").read_text() == "woman, indoors\n"
    assert {f["code"] for f in data["lint"]} >= {"class_tokens_ignored", "too_small"}

    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[[concept]]\nname = "miku"\nquery = "tag:hatsune_miku"\nrepeats = 10\nclass_tokens = "ohwx girl"\n'
        'trigger = ["ohwx"]\n\n[[concept]]\nname = "women"\nquery = "tag:woman"\nclass_tokens = "woman"\nreg = true\n'
    )
    assert load_plan(plan) == (
        Concept("miku", "tag:hatsune_miku", 10, "ohwx girl", ("ohwx",)),
        Concept("women", "tag:woman", 1, "woman", None, is_reg=True),
    )
    code, data = cli(capsys, *base, "-o", str(tmp_path / "plan"), "--plan", str(plan))
    assert code == 0
    flag_files = {p.relative_to(tmp_path / "flags") for p in (tmp_path / "flags").rglob("*") if p.is_file()}
    plan_files = {p.relative_to(tmp_path / "plan") for p in (tmp_path / "plan").rglob("*") if p.is_file()}
    assert flag_files == plan_files
    for relative in flag_files - {Path("lorairo_export.json")}:
        assert (tmp_path / "flags" / relative).read_bytes() == (tmp_path / "plan" / relative).read_bytes()

    code, data = cli(capsys, *base, "-o", str(tmp_path / "check"), *flags, "--check")
    assert code == 0 and data["count"] == len(data["findings"]) > 0
    code, data = cli(capsys, *base, "-o", str(tmp_path / "check"), *flags, "--check", "--strict")
    assert code == 2 and "class_tokens_ignored" in data["error"]["message"]
    code, data = cli(capsys, *base, "-o", str(tmp_path / "strict"), *flags, "--strict")
    assert code == 2 and "--strict" in data["error"]["message"]
    assert not (tmp_path / "check").exists() and not (tmp_path / "strict").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repeats", "ghost=3", "--concept", "a=tag:woman"], "no --concept defines"),
        (["--concept", "a=tag:woman", "--repeats", "a=x"], "whole number"),
        (["--concept", "a=tag:woman", "--reg", "a"], "at least one concept"),
        (["--concept", "a/b=tag:woman"], "plain folder name"),
        (["--concept", "a=tag:woman", "tag:woman"], "own queries"),
        (["--reg", "a"], "need a --concept"),
        (["--plan", "missing.toml"], "cannot read plan"),
    ],
)
def test_cli_concept_errors_exit_2(
    builder: Builder, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, data = cli(capsys, "export", "create", "-p", "demo", "-o", str(tmp_path / "x"), *args)
    assert code == 2 and message in data["error"]["message"]
    assert not (tmp_path / "x").exists()


def test_exact_token_count_from_a_tokenizer_file(tmp_path: Path) -> None:
    """The exact path: a real `tokenizers` file (a tiny word-level vocabulary, as CLIP's would be)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocabulary = {"[UNK]": 0, "ohwx": 1, "girl": 2, ",": 3}
    tokenizer = Tokenizer(WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    count = tokenizer_counter(path)
    assert count("ohwx, girl, unknownword") == 5
    assert count(", ".join(["girl"] * 40)) == 79 > 75
