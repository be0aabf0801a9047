"""`lorairo gui` and bare `lorairo`: a window only where a display exists, help elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(*args: str, **env_changes: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-m", "lorairo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_bare_lorairo_without_a_display_prints_help() -> None:
    result = _run(DISPLAY=None, WAYLAND_DISPLAY=None, QT_QPA_PLATFORM=None)
    assert "Usage" in result.stdout + result.stderr
    assert "gui" in result.stdout


def test_gui_without_a_display_fails_with_one_clear_line() -> None:
    result = _run("gui", DISPLAY=None, WAYLAND_DISPLAY=None, QT_QPA_PLATFORM=None)
    assert result.returncode == 1
    assert "no display available" in result.stderr
    assert "Traceback" not in result.stderr
