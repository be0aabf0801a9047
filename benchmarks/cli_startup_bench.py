"""CLI cold start: what every `lorairo` call (help, completions, `project list`) pays before it works.

Median wall time of fresh processes, each against the bare interpreter in the same run:
  baseline  `python -c pass`
  floor     `python -c "import typer"` (the CLI framework alone) and `import typer._adapters`
            (Typer 0.29 loads pydantic to coerce the first option value a command parses)
  lorairo --help, lorairo images --help, lorairo --json project list (on an empty home)

    uv run python benchmarks/cli_startup_bench.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def lorairo_command() -> list[str]:
    """The installed `lorairo` script beside this interpreter, else `python -m lorairo`."""
    script = Path(sys.executable).with_name("lorairo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lorairo"]


def median_seconds(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-500:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {
            **os.environ,
            "LORAIRO_CONFIG_PATH": str(home / "config" / "lorairo.toml"),
            "LORAIRO_DATABASE_DIR": str(home / "projects"),
            "HF_HOME": str(home / "hf"),
            "XDG_DATA_HOME": str(home / "data"),
            "COLUMNS": "120",
        }
        env.pop("LORAIRO_DATABASE_URL", None)
        cli = lorairo_command()
        cases = [
            ("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
            ("import typer (floor)", [sys.executable, "-c", "import typer"]),
            ("import typer._adapters (pydantic)", [sys.executable, "-c", "import typer._adapters"]),
            ("lorairo --help", [*cli, "--help"]),
            ("lorairo images --help", [*cli, "images", "--help"]),
            ("lorairo --json project list", [*cli, "--json", "project", "list"]),
        ]
        print(f"{len(cases)} commands, median of {args.runs} runs each ({os.cpu_count()} CPUs)")
        baseline = None
        for label, command in cases:
            seconds = median_seconds(command, env, args.runs)
            baseline = baseline or seconds
            print(f"  {label:<36} {seconds * 1000:8.0f} ms  {seconds / baseline:6.1f}x baseline")


if __name__ == "__main__":
    main()
