"""Scale-out: annotation workers against one database.

Worker part (`workers`): a project of tiny images (4 to 61 px, five modes, JPEG/PNG/WebP), the
tiny colour tagger, and 1, 2 (and 4 where the machine has the cores) `lorairo worker` processes
on one queue; each round starts the workers, then enqueues every image (`annotate run --distributed --all`)
and times them until the queue is empty.
Prints images/s per worker count and the speed-up and efficiency against one worker measured in
the same run, plus the load average, since the machine may be shared. The clock runs from the
enqueue (every worker has loaded the model and polls the empty queue) until the queue is empty,
so interpreter start-up and model loading, paid once per worker, are left out.

    uv run python benchmarks/scale_bench.py workers [--images 3000] [--batch 32] [--rounds 2]
        [--engine sqlite|postgresql|both] [--database-url postgresql+psycopg://...]

SQLite: the project is a file (workers on one machine). PostgreSQL: a throwaway local server
(the tests' own), or the server of `--database-url`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _isolate(home: Path, database_url: str | None) -> None:
    """A throwaway LoRAIro home, inherited by the worker processes."""
    os.environ["LORAIRO_CONFIG_PATH"] = str(home / "config" / "lorairo.toml")
    os.environ["LORAIRO_DATABASE_DIR"] = str(home / "projects")
    os.environ["HF_HOME"] = str(home / "hf")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    if database_url:
        os.environ["LORAIRO_DATABASE_URL"] = database_url


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _server_processes(database_url: str | None) -> list[psutil.Process]:
    """The PostgreSQL server's processes on this machine (none for SQLite or a remote server)."""
    if not database_url:
        return []
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


def worker_scaling(
    images: int, batch: int, rounds: int, database_url: str | None, read_latency_ms: float = 0.0
) -> dict[str, object]:
    """images/s for 1, 2 (and 4) worker processes on one queue; the best of `rounds` each.
    `read_latency_ms` makes each image open wait that long without using the CPU, as reads from
    shared (network) storage do."""
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as temp:
        tmp = Path(temp)
        _isolate(tmp / "home", database_url)
        from lorairo.services.annotation_service import AnnotationService
        from tests.integration.worker_farm import MODEL, make_farm, start_worker

        config, project = make_farm(tmp, "scale", images)
        service = AnnotationService(project, config)
        cores = os.cpu_count() or 1
        counts = [1, 2, 4] if cores >= 4 else [1, 2]
        load_before = os.getloadavg()
        rates: dict[int, list[float]] = {count: [] for count in counts}
        # Per round: cores used by the workers, by the database server, and the machine's busy share.
        usage: dict[int, list[tuple[float, float, float]]] = {count: [] for count in counts}
        for round_index in range(rounds):
            for count in counts:
                children = [
                    start_worker(tmp, project, f"r{round_index}-{count}-{n}", "--batch", str(batch), "--poll", "0.05",
                                 delay=read_latency_ms / 1000)[0]
                    for n in range(count)
                ]  # fmt: skip
                pids = {f":{child.pid}:" for child in children}
                while len([w for w in service.live_workers() if any(p in w.id for p in pids)]) < count:
                    time.sleep(0.05)  # each has loaded the model and is polling the empty queue
                workers = [psutil.Process(child.pid) for child in children]
                servers = _server_processes(database_url)
                cpu_before = _cpu_seconds(workers), _cpu_seconds(servers), psutil.cpu_times()
                started = time.perf_counter()
                job = service.enqueue([MODEL], "all", batch)
                while service.progress_of(job.job).items_open:
                    time.sleep(0.02)
                seconds = time.perf_counter() - started
                machine = psutil.cpu_times()
                busy = sum(machine) - machine.idle - (sum(cpu_before[2]) - cpu_before[2].idle)
                usage[count].append(
                    (
                        (_cpu_seconds(workers) - cpu_before[0]) / seconds,
                        (_cpu_seconds(servers) - cpu_before[1]) / seconds,
                        busy / seconds / (os.cpu_count() or 1),
                    )
                )
                annotated = 0
                for child in children:
                    child.send_signal(signal.SIGTERM)
                    out, err = child.communicate(timeout=600)
                    if child.returncode != 0:
                        raise SystemExit(f"worker failed: {err[-2000:]}")
                    annotated += json.loads(out)["images_annotated"]
                if annotated != job.images_queued:
                    raise SystemExit(f"{count} workers annotated {annotated} of {job.images_queued} images")
                rates[count].append(annotated / seconds)
        project.close()
    best = {count: max(values) for count, values in rates.items()}
    result: dict[str, object] = {
        "engine": "postgresql" if database_url else "sqlite",
        "images": images,
        "batch": batch,
        "read_latency_ms": read_latency_ms,
        "cores": cores,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    for count in counts:
        speedup = best[count] / best[1]
        result[f"workers_{count}"] = {
            "images_per_s": round(best[count], 1),
            "median_images_per_s": round(statistics.median(rates[count]), 1),
            "speedup_vs_1": round(speedup, 2),
            "efficiency": round(speedup / count, 2),
            "worker_cores_used": round(statistics.median(u[0] for u in usage[count]), 2),
            "db_server_cores_used": round(statistics.median(u[1] for u in usage[count]), 2),
            "machine_busy": round(statistics.median(u[2] for u in usage[count]), 2),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parts = parser.add_subparsers(dest="part", required=True)
    workers = parts.add_parser("workers", help="1, 2 (4) worker processes on one queue")
    workers.add_argument("--images", type=int, default=3000)
    workers.add_argument("--batch", type=int, default=32)
    workers.add_argument("--rounds", type=int, default=2)
    workers.add_argument("--read-latency-ms", type=float, default=0.0)
    workers.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    workers.add_argument("--database-url", help="an existing PostgreSQL server (default: a throwaway one)")
    args = parser.parse_args()
    if args.part == "workers":
        engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
        results = []
        for engine in engines:
            if engine == "sqlite":
                results.append(
                    worker_scaling(args.images, args.batch, args.rounds, None, args.read_latency_ms)
                )
            elif args.database_url:
                results.append(
                    worker_scaling(
                        args.images, args.batch, args.rounds, args.database_url, args.read_latency_ms
                    )
                )
            else:
                results.append(
                    _on_throwaway_server(args.images, args.batch, args.rounds, args.read_latency_ms)
                )
        print(json.dumps(results, indent=2))


def _on_throwaway_server(images: int, batch: int, rounds: int, read_latency_ms: float) -> dict[str, object]:
    """A private PostgreSQL cluster (temp dir, free port) for the run, as the tests start one."""
    from tests.postgres_server import start_server

    server, reason = start_server()
    if server is None:
        return {"engine": "postgresql", "skipped": reason}
    try:
        return worker_scaling(images, batch, rounds, server.url(server.create_database()), read_latency_ms)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
