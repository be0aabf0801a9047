"""The tag list's rules and keys on real widgets: which tags an image shows (candidates greyed,
rejected struck through), F2 / Shift+F2 rename in place, Alt+Up/Down reorder, a click accepts a
below-threshold tag, the right-click menu, "n of N" for a selection and the token count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from lorairo.export.tokens import CLIP_WINDOW, default_counter
from lorairo.gui.widgets.tag_editor import TagEditor
from lorairo.gui.widgets.tag_list import STATE_ROLE, TagEntry, TagList, shared_entries, tag_entries


def _row(tag: str, **values: Any) -> dict[str, Any]:
    return {
        "tag": tag,
        "is_accepted": True,
        "rejected_at": None,
        "removed_at": None,
        "confidence": None,
        **values,
    }


def test_entries_of_one_image_put_candidates_last_by_confidence() -> None:
    rows = [
        _row("1girl", confidence=0.9),
        _row("smile", is_accepted=False, confidence=0.2),
        _row("hat", rejected_at="2026-01-01"),
        _row("hat", is_accepted=False, confidence=0.3),  # a rejection hides every row of the tag
        _row("red hair", is_accepted=False, confidence=0.31),
        _row("red hair", source="manual"),  # a manual row counts: not a candidate
        _row("blurry", is_accepted=False, confidence=0.25),
        _row("scarf", is_accepted=False, confidence=0.3, removed_at="2026-01-01"),  # removed: hidden
    ]
    assert tag_entries(rows) == [
        TagEntry("1girl"),
        TagEntry("hat", "rejected"),
        TagEntry("red hair"),
        TagEntry("blurry", "candidate", confidence=0.25),
        TagEntry("smile", "candidate", confidence=0.2),
    ]


def test_shared_entries_rank_the_most_shared_first() -> None:
    entries = shared_entries([("cat", 1), ("sofa", 3), ("Bed", 1)], 3)
    assert [(e.tag, e.label) for e in entries] == [
        ("sofa", "sofa    3 of 3"),
        ("Bed", "Bed    1 of 3"),
        ("cat", "cat    1 of 3"),
    ]


def _tag_list(qtbot: QtBot) -> TagList:
    tags = TagList()
    qtbot.addWidget(tags)
    tags.set_entries(
        [TagEntry("1girl"), TagEntry("hat", "rejected"), TagEntry("smile", "candidate", confidence=0.2)]
    )
    tags.show()
    tags.setFocus()
    return tags


def test_f2_renames_in_place_here_and_shift_f2_everywhere(qtbot: QtBot) -> None:
    tags = _tag_list(qtbot)
    tags.setCurrentRow(0)
    for modifier, everywhere in (
        (Qt.KeyboardModifier.NoModifier, False),
        (Qt.KeyboardModifier.ShiftModifier, True),
    ):
        qtbot.keyClick(tags, Qt.Key.Key_F2, modifier)
        editor = tags.findChild(QLineEdit)
        assert tags.state() == tags.State.EditingState
        assert isinstance(editor, QLineEdit) and editor.text() == "1girl", "the bare tag, no count"
        editor.setText("1woman")
        with qtbot.waitSignal(tags.rename_requested) as renamed:
            qtbot.keyClick(editor, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: tags.findChild(QLineEdit) is None)  # the editor is gone
        assert renamed.args == ["1girl", "1woman", everywhere]
    assert tags.item(0).text() == "1girl", "the list is redrawn from the store, not edited"


def test_alt_arrows_reorder_and_candidates_stay_last(qtbot: QtBot) -> None:
    tags = _tag_list(qtbot)
    tags.setCurrentRow(0)
    with qtbot.waitSignal(tags.reorder_requested) as moved:
        qtbot.keyClick(tags, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert moved.args == [["hat", "1girl"]]
    tags.setCurrentRow(1)
    with qtbot.assertNotEmitted(tags.reorder_requested):
        qtbot.keyClick(tags, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)  # past the candidates


def test_click_or_enter_accepts_a_candidate_and_delete_rejects(qtbot: QtBot) -> None:
    tags = _tag_list(qtbot)
    candidate = tags.item(2)
    assert candidate.data(STATE_ROLE) == "candidate" and candidate.font().italic()
    with qtbot.waitSignal(tags.accept_requested) as accepted:
        qtbot.mouseClick(
            tags.viewport(), Qt.MouseButton.LeftButton, pos=tags.visualItemRect(candidate).center()
        )
    assert accepted.args == ["smile"]
    tags.setCurrentRow(1)
    with qtbot.waitSignal(tags.reject_requested) as restored:
        qtbot.keyClick(tags, Qt.Key.Key_Return)  # Enter on a rejected tag restores it
    assert restored.args == ["hat", True]
    tags.setCurrentRow(0)
    with qtbot.waitSignal(tags.reject_requested) as rejected:
        qtbot.keyClick(tags, Qt.Key.Key_Delete)
    assert rejected.args == ["1girl", False]


def test_context_menu_offers_the_five_actions(qtbot: QtBot) -> None:
    tags = _tag_list(qtbot)
    menu = tags.context_menu(tags.item(2))
    assert menu is not None
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert list(actions) == [
        "Accept",
        "Reject",
        "Rename…",
        "Rename everywhere…",
        "Search for this tag",
        "Find images with this tag",
    ]
    assert actions["Accept"].isEnabled() and not actions["Reject"].isEnabled(), "a candidate: accept only"
    with qtbot.waitSignal(tags.search_requested) as found:
        actions["Find images with this tag"].trigger()
    assert found.args == ["smile", True]
    with qtbot.waitSignal(tags.accept_requested):
        actions["Accept"].trigger()


def test_selection_shows_n_of_n_and_token_count_follows_the_tags(qtbot: QtBot) -> None:
    editor = TagEditor()
    qtbot.addWidget(editor)
    editor.set_entries(shared_entries([("sofa", 3), ("cat", 1)], 3), 3)
    assert editor.list.item(0).text() == "sofa    3 of 3"
    assert "3 images selected" in editor.selection_label.text() and editor.selection_label.isVisibleTo(editor)
    assert editor.list.counts() == {"sofa": 3, "cat": 1}

    counter, kind = default_counter()
    short = [TagEntry("1girl"), TagEntry("red hair")]
    editor.set_entries(short)
    assert not editor.selection_label.isVisibleTo(editor)
    assert editor.tokens.text().startswith(f"{counter('1girl, red hair')} / {CLIP_WINDOW} tokens")
    assert ("estimate" in editor.tokens.text()) == (kind == "estimate")
    long = [TagEntry(f"tag number {i}") for i in range(40)]
    editor.set_entries(long)
    assert counter(", ".join(e.tag for e in long)) > CLIP_WINDOW
    assert "d03030" in editor.tokens.styleSheet(), "over the window: shown in red"


def test_a_configured_clip_tokenizer_gives_the_exact_count(qtbot: QtBot, tmp_path: Path) -> None:
    """`[tags] clip_tokenizer`: a real `tokenizers` file (a tiny word-level vocabulary)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tokenizer = Tokenizer(WordLevel({"[UNK]": 0, "red": 1, "hair": 2, ",": 3}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    editor = TagEditor()
    qtbot.addWidget(editor)
    editor.tokenizer_file = str(path)
    editor.set_entries([TagEntry("red hair"), TagEntry("1girl")])
    assert editor.tokens.text() == f"4 / {CLIP_WINDOW} tokens", "red, hair, ',', [UNK]: no estimate"
    editor.tokenizer_file = str(tmp_path / "missing.json")
    editor.set_entries([TagEntry("red hair")])
    counter, kind = default_counter()
    fallback = f"{counter('red hair')} / {CLIP_WINDOW} tokens{'' if kind == 'clip' else ' (estimate)'}"
    assert editor.tokens.text() == fallback, "a missing file falls back without an error"
