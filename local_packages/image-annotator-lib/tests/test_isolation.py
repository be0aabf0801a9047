"""The library stands alone: importing its whole public surface pulls in no part of LoRAIro."""

from __future__ import annotations

import subprocess
import sys


def test_public_surface_imports_no_lorairo() -> None:
    code = (
        "import sys, image_annotator_lib.api, image_annotator_lib.registry; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'lorairo', 'PySide6', 'sqlalchemy'}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
