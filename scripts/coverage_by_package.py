"""Print statement and branch coverage per package from the `.coverage` file the test run left.

coverage.py reports per file; a per-package table shows at a glance which stage is thinly tested.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path

import coverage


def package_of(path: str) -> str:
    parts = Path(path).parts
    for root in ("lorairo", "image_annotator_lib", "genai_tag_db_tools"):
        if root in parts:
            index = parts.index(root)
            rest = parts[index + 1 :]
            return root if root != "lorairo" or len(rest) < 2 else f"lorairo.{rest[0]}"
    return "other"


def main() -> None:
    cov = coverage.Coverage()
    cov.load()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "coverage.json"
        cov.json_report(outfile=str(report))
        files = json.loads(report.read_text(encoding="utf-8"))["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for path, entry in files.items():
        summary = entry["summary"]
        row = totals[package_of(path)]
        row[0] += summary["num_statements"]
        row[1] += summary["missing_lines"]
        row[2] += summary.get("num_branches", 0)
        row[3] += summary.get("missing_branches", 0)
    print(f"{'package':28s} {'statements':>10s} {'branches':>9s}")
    for package, (statements, missing, branches, missing_branches) in sorted(totals.items()):
        stmt = 100 * (statements - missing) / statements if statements else 100.0
        branch = 100 * (branches - missing_branches) / branches if branches else 100.0
        print(f"{package:28s} {stmt:9.1f}% {branch:8.1f}%")


if __name__ == "__main__":
    main()
