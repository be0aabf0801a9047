from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from genai_tag_db_tools.cleaning import (
    clean_tag,
    escape_for_prompt,
    format_for_output,
    lookup_key,
    split_raw,
    split_tags,
    unescape,
)


def test_underscores_become_spaces_but_kaomoji_keep_theirs() -> None:
    assert clean_tag("long_hair") == "long hair"
    assert clean_tag("^_^") == "^_^"
    assert clean_tag(" o_o ") == "o_o"
    assert format_for_output("^_^", underscores=False) == "^_^"
    assert split_tags("^_^, >_<, smile") == ["^_^", ">_<", "smile"]


def test_whitespace_collapsed_and_case_folded_only_for_lookup() -> None:
    assert clean_tag("  Gray   Hair ") == "Gray Hair"
    assert lookup_key("Gray_Hair") == lookup_key("gray hair") == "gray hair"


@given(st.text(alphabet=st.sampled_from(list("abc ()[]_")), max_size=30))
def test_escape_round_trip(text: str) -> None:
    assert unescape(escape_for_prompt(text)) == text


def test_output_styles() -> None:
    assert format_for_output("yae miko (fox)") == r"yae miko \(fox\)"
    assert format_for_output(r"yae_miko_\(fox\)", underscores=True) == r"yae_miko_\(fox\)"
    assert format_for_output("yae miko (fox)", underscores=True, escape=False) == "yae_miko_(fox)"
    assert format_for_output(r"yae miko \(fox\)", escape=False) == "yae miko (fox)"


def test_lora_spans_untouched() -> None:
    span = "<lora:my_style_v2:0.8>"
    assert clean_tag(span) == span
    assert format_for_output(span, underscores=False) == span
    assert split_raw(f"1girl,{span}<lora:b_c:1>, smile") == ["1girl", span, "<lora:b_c:1>", "smile"]


def test_split_collapses_separator_runs_and_keeps_first_duplicate() -> None:
    assert split_tags("Gray_Hair,, ,\n\n 1girl ,gray hair,GRAY HAIR , 1girl,") == ["Gray Hair", "1girl"]
    assert split_tags(" , ,, ") == []
