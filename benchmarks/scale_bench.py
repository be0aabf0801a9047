"""Scale-out: annotation workers against one database; search on PostgreSQL against SQLite.

Search part (`search`, `search_part()`): one dataset (N images, ~T tags each from a Zipf vocabulary,
one caption, score and rating per image) built with the same rows in a SQLite project and in a
PostgreSQL project on a throwaway server, in the same run; the search benchmark's queries timed on
each (a page of 50 ids + summaries + the total), the two engines taking turns query by query, so
whatever else the machine does (a checkpoint, another process) falls on both. Prints p50/p99 per
query, the PostgreSQL/SQLite p99 ratio (goal: at most 2x) and PostgreSQL's EXPLAIN of the main
query shapes.

    uv run python benchmarks/scale_bench.py search [--n 100000] [--tags 30] [--reps 100]

Worker part (`workers`): a project of tiny images (4 to 61 px, five modes, JPEG/PNG/WebP), the
tiny colour tagger, and 1, 2 (and 4 where the machine has the cores) `lorairo worker` processes
on one queue; each round enqueues every image (`annotate run --distributed --all`), then starts
the workers and times them until the queue is empty.
Prints images/s per worker count and the speed-up and efficiency against one worker measured in
the same run, plus the load average and CPU use, since the machine may be shared. The clock runs
from the moment the last worker has loaded the model until the queue is empty; images the first
workers finished before that are not counted, so interpreter start-up and model loading, paid once
per worker, are left out. (Enqueueing while the workers wait, as earlier versions timed it,
measures the enqueue: one transaction per batch, slower than workers running a tiny tagger.)

    uv run python benchmarks/scale_bench.py workers [--images 3000] [--batch 32] [--rounds 2]
        [--engine sqlite|postgresql|both] [--database-url postgresql+psycopg://...] [--threads N]
        [--no-analyze]

Each round starts on fresh planner statistics (ANALYZE), as a server's autovacuum keeps them;
`--no-analyze` shows the first minute of a fresh project instead, before autovacuum has run.

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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sqlalchemy import insert, text

from benchmarks.search_bench import COMMON, QUERIES, WORDS, p50_p99
from lorairo.database.engine import Database, project_schema
from lorairo.database.schema import Base
from lorairo.database.search_repository import SearchRepository
from lorairo.database.search_sql import select_ids
from lorairo.search.query_language import parse_query
from lorairo.services.project_service import Project
from lorairo.services.search_service import SearchService
from tests.postgres_server import start_server


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


def _server_processes(database_url: str | None, postmaster: int | None = None) -> list[psutil.Process]:
    """The PostgreSQL server's processes: the throwaway server's postmaster and its backends, or
    (a `--database-url` server) every postgres process on this machine; none for SQLite. Other
    servers on a shared machine (test runs) would otherwise count as this benchmark's."""
    if not database_url:
        return []
    if postmaster is not None:
        root = psutil.Process(postmaster)
        return [root, *root.children(recursive=True)]
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


def _analyze(project: Any) -> None:
    """Fresh planner statistics, as a long-lived server's autovacuum keeps them. A round lasts
    seconds, far less than autovacuum's one-minute nap, so without this each round is planned
    against the tables as the previous round's start left them (empty in round one): PostgreSQL
    then deleted a batch's earlier tags by walking every row the model has stored (19 ms of a
    batch's 30 ms of server time when re-annotating 6000 images). Not before the first run, whose
    tables are still empty: statistics of empty tables planned it worse than none (87 images/s)."""
    with project.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


def worker_scaling(
    images: int,
    batch: int,
    rounds: int,
    database_url: str | None,
    read_latency_ms: float = 0.0,
    threads: int | None = None,
    postmaster: int | None = None,
    analyze: bool = True,
) -> dict[str, object]:
    """images/s for 1, 2 (and 4) worker processes on one queue; the best of `rounds` each.
    `read_latency_ms` makes each image open wait that long without using the CPU, as reads from
    shared (network) storage do. `threads`: each worker's `--threads` (None: the default)."""
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
        early: dict[int, list[int]] = {count: [] for count in counts}
        # Per round: cores used by the workers, by the database server, the machine's busy share, and
        # cores used by this process (it polls the queue's progress).
        usage: dict[int, list[tuple[float, float, float, float]]] = {count: [] for count in counts}
        extra = [] if threads is None else ["--threads", str(threads)]
        me = psutil.Process()
        for round_index in range(rounds):
            for count in counts:
                # The queue is full before the workers start: the clock measures them, not the
                # enqueue (one transaction per batch, slower than workers on a tiny tagger).
                job = service.enqueue([MODEL], "all", batch)
                if analyze and (round_index or count != counts[0]):  # the first run: tables empty
                    _analyze(project)
                children = [
                    start_worker(tmp, project, f"r{round_index}-{count}-{n}", "--batch", str(batch), "--poll", "0.05",
                                 *extra, delay=read_latency_ms / 1000)[0]
                    for n in range(count)
                ]  # fmt: skip
                pids = {f":{child.pid}:" for child in children}
                while len([w for w in service.live_workers() if any(p in w.id for p in pids)]) < count:
                    time.sleep(0.01)  # each has loaded the model; the first ones already work
                workers = [psutil.Process(child.pid) for child in children]
                servers = _server_processes(database_url, postmaster)
                cpu_before = (
                    _cpu_seconds(workers),
                    _cpu_seconds(servers),
                    psutil.cpu_times(),
                    _cpu_seconds([me]),
                )
                started = time.perf_counter()
                done_before = service.progress_of(job.job).images_done  # not counted
                while service.progress_of(job.job).items_open:
                    time.sleep(0.05)
                seconds = time.perf_counter() - started
                machine = psutil.cpu_times()
                busy = sum(machine) - machine.idle - (sum(cpu_before[2]) - cpu_before[2].idle)
                usage[count].append(
                    (
                        (_cpu_seconds(workers) - cpu_before[0]) / seconds,
                        (_cpu_seconds(servers) - cpu_before[1]) / seconds,
                        busy / seconds / (os.cpu_count() or 1),
                        (_cpu_seconds([me]) - cpu_before[3]) / seconds,
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
                rates[count].append((annotated - done_before) / seconds)
                early[count].append(done_before)
        project.close()
    best = {count: max(values) for count, values in rates.items()}
    result: dict[str, object] = {
        "engine": "postgresql" if database_url else "sqlite",
        "images": images,
        "batch": batch,
        "read_latency_ms": read_latency_ms,
        "threads_per_worker": "default" if threads is None else threads,
        "analyze_before_rounds": analyze,
        "cores": cores,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    for count in counts:
        speedup = best[count] / best[1]
        result[f"workers_{count}"] = {
            "images_per_s": round(best[count], 1),
            "median_images_per_s": round(statistics.median(rates[count]), 1),
            "rounds_images_per_s": [round(rate, 1) for rate in rates[count]],
            "speedup_vs_1": round(speedup, 2),
            "efficiency": round(speedup / count, 2),
            "worker_cores_used": round(statistics.median(u[0] for u in usage[count]), 2),
            "db_server_cores_used": round(statistics.median(u[1] for u in usage[count]), 2),
            "machine_busy": round(statistics.median(u[2] for u in usage[count]), 2),
            "bench_cores_used": round(statistics.median(u[3] for u in usage[count]), 2),
            # s, the server's CPU per unit of worker CPU, a ratio that load barely moves: on a
            # machine of C cores, n workers reach at most about C / (1 + s) x one worker's rate
            # when one worker uses one core
            "server_cpu_per_worker_cpu": round(
                statistics.median(u[1] / u[0] for u in usage[count] if u[0] > 0) if database_url else 0.0, 3
            ),
            "images_before_clock": int(statistics.median(early[count])),
        }
    return result


T = Base.metadata.tables


def _chunks(n: int, tags_per_image: int, seed: int) -> Any:
    """The dataset, 5k images at a time, identical for every engine (same seed)."""
    rng = np.random.default_rng(seed)
    vocab = COMMON + [f"tag {i}" for i in range(5000)]
    common = np.linspace(0.03, 0.004, len(COMMON))
    tail = 1.0 / np.arange(1, len(vocab) - len(COMMON) + 1) ** 0.9
    weights = np.concatenate([common, tail / tail.sum() * (1 - common.sum())])
    now = datetime(2026, 1, 1)
    ratings = ["general", "sensitive", "questionable", "explicit"]
    for start in range(0, n, 5_000):
        ids = range(start + 1, min(n, start + 5_000) + 1)
        rows: dict[str, list[dict[str, Any]]] = {"images": [], "tags": [], "captions": [], "scores": []}
        rows.update({"ratings": [], "model_annotations": []})
        for i in ids:
            rows["images"].append(
                {
                    "id": i,
                    "file_path": f"/src/{i}.png",
                    "stored_path": f"images/originals/{i}.png",
                    "name": f"img_{i}.png",
                    "file_size": 1000,
                    "width": 512 + (i * 37) % 1024,
                    "height": 512 + (i * 53) % 1024,
                    "format": "PNG",
                    "mode": "RGB",
                    "has_alpha": False,
                    "sha256": f"{i:064x}",
                    "phash": i,
                    "created_at": now + timedelta(seconds=i),
                    "updated_at": now,
                }
            )
            chosen = rng.choice(len(vocab), size=tags_per_image, replace=False, p=weights)
            for position, index in enumerate(chosen):
                rows["tags"].append(
                    {
                        "image_id": i,
                        "model_id": 1,
                        "source": "model",
                        "tag": vocab[index],
                        "category": "general",
                        "confidence": float(rng.random()),
                        "is_accepted": True,
                        "position": position,
                        "is_edited_manually": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            base = {
                "image_id": i,
                "model_id": 1,
                "source": "model",
                "is_edited_manually": False,
                "created_at": now,
            }
            rows["captions"].append(
                {**base, "caption": " ".join(rng.choice(WORDS, size=8)), "updated_at": now}
            )
            rows["scores"].append(
                {**base, "kind": "aesthetic", "score": float(rng.uniform(0, 10)), "scale_max": 10.0}
            )
            rows["ratings"].append({**base, "rating": ratings[int(rng.integers(0, 4))]})
            if i % 10 < 7:
                rows["model_annotations"].append({"image_id": i, "model_id": 1, "annotated_at": now})
        yield rows


def build(database: Database, n: int, tags_per_image: int) -> float:
    start = time.perf_counter()
    with database.write_session() as session:
        session.execute(
            insert(T["models"]),
            [{"id": 1, "name": "wd-vit-tagger-v3", "type": "tagger", "created_at": datetime(2026, 1, 1)}],
        )
    for rows in _chunks(n, tags_per_image, seed=7):
        with database.write_session() as session:
            for table, values in rows.items():
                if values:
                    session.execute(insert(T[table]), values)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # PostgreSQL: VACUUM sets the visibility map, so covering indexes give index-only scans
        # (autovacuum does this on a live server after a bulk load); the CHECKPOINT writes the load
        # out now rather than while the queries are timed.
        if database.dialect == "postgresql":
            connection.execute(text("VACUUM ANALYZE"))
            connection.execute(text("CHECKPOINT"))
        else:
            connection.execute(text("ANALYZE"))
    return time.perf_counter() - start


def explain(database: Database) -> None:
    """PostgreSQL's plans for the main shapes (an id-stream page and a count)."""
    with database.read_session() as session:
        for label in ("single tag", "AND of three", "wildcard", "caption phrase", "combined"):
            node = parse_query(QUERIES[label])
            ctx = SearchRepository.context(session, node)  # the engine's shapes, the expansions
            statement = select_ids(node, ctx=ctx).limit(50)
            compiled = statement.compile(
                dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
            )
            plan = session.execute(text(f"EXPLAIN {compiled}")).scalars().all()
            print(f"\n-- EXPLAIN {label}: {QUERIES[label]}")
            print("\n".join(plan[:14]))


def time_in_turns(services: dict[str, SearchService], reps: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Per engine and query: the total and the p50/p99 (ms) of one screen's search (first page of
    50 ids + summaries + the total count). Each rep runs every query on every engine in turn, the
    engine going first alternating, so a pause of the machine lands on both engines alike."""
    samples: dict[str, dict[str, list[float]]] = {
        engine: {label: [] for label in QUERIES} for engine in services
    }
    totals: dict[str, dict[str, int]] = {engine: {} for engine in services}
    engines = list(services)
    for rep in range(reps):
        for label, query in QUERIES.items():
            for engine in engines if rep % 2 == 0 else engines[::-1]:
                start = time.perf_counter()
                totals[engine][label] = services[engine].search(query, limit=50).total or 0
                samples[engine][label].append((time.perf_counter() - start) * 1000)
    return {
        engine: {
            label: {"total": totals[engine][label], "search": p50_p99(samples[engine][label])}
            for label in QUERIES
        }
        for engine in services
    }


def search_part(n: int, tags_per_image: int, reps: int) -> None:
    server, reason = start_server()
    if server is None:
        print(f"no PostgreSQL server: {reason}")
        return
    try:
        name = server.create_database()
        with tempfile.TemporaryDirectory() as tmp:
            databases: dict[str, Database] = {}
            for engine, location in (
                ("sqlite", str(Path(tmp) / "database.db")),
                ("postgresql", server.url(name)),
            ):
                database = Database(
                    location, schema=project_schema("bench") if engine == "postgresql" else None
                )
                seconds = build(database, n, tags_per_image)
                print(f"{engine}: built {n:,} images, {n * tags_per_image:,} tag rows in {seconds:.1f} s")
                databases[engine] = database
            explain(databases["postgresql"])
            services = {
                engine: SearchService(Project("bench", Path(tmp), database))
                for engine, database in databases.items()
            }
            # warm: the first search opens connections and reads the vocabulary
            for service in services.values():
                service.search(QUERIES["single tag"], limit=50)
            results = time_in_turns(services, reps)
            for database in databases.values():
                database.close()
        print(f"\nsearch at {n:,} images / {n * tags_per_image:,} tag rows, {reps} reps (ms, p50 / p99)")
        print(f"{'query':<16} {'total':>7} {'SQLite':>17} {'PostgreSQL':>17} {'p99 PG/SQLite':>14}")
        worst = 0.0
        for label in QUERIES:
            lite, pg = results["sqlite"][label], results["postgresql"][label]
            ratio = pg["search"][1] / max(lite["search"][1], 1e-6)
            worst = max(worst, ratio)
            print(
                f"{label:<16} {lite['total']:>7} {lite['search'][0]:>8.1f}/{lite['search'][1]:>7.1f}"
                f" {pg['search'][0]:>8.1f}/{pg['search'][1]:>7.1f} {ratio:>13.2f}x"
            )
        print(f"worst p99 ratio {worst:.2f}x (goal <= 2x)")
    finally:
        server.stop()


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
    workers.add_argument(
        "--no-analyze", action="store_true", help="no ANALYZE before each round (stale planner statistics)"
    )
    workers.add_argument(
        "--threads", type=int, help="each worker's --threads (default: the worker's default)"
    )
    workers.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    workers.add_argument("--database-url", help="an existing PostgreSQL server (default: a throwaway one)")
    search = parts.add_parser("search", help="search p50/p99 on SQLite and PostgreSQL, same data, same run")
    search.add_argument("--n", type=int, default=100_000, help="images")
    search.add_argument("--tags", type=int, default=30, help="tags per image")
    search.add_argument("--reps", type=int, default=100, help="runs per query and engine")
    args = parser.parse_args()
    if args.part == "search":
        search_part(args.n, args.tags, args.reps)
    if args.part == "workers":
        engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
        results = []
        for engine in engines:
            common = (args.images, args.batch, args.rounds)
            if engine == "sqlite":
                results.append(
                    worker_scaling(
                        *common, None, args.read_latency_ms, args.threads, analyze=not args.no_analyze
                    )
                )
            elif args.database_url:
                results.append(
                    worker_scaling(
                        *common,
                        args.database_url,
                        args.read_latency_ms,
                        args.threads,
                        analyze=not args.no_analyze,
                    )
                )
            else:
                results.append(
                    _on_throwaway_server(*common, args.read_latency_ms, args.threads, not args.no_analyze)
                )
        print(json.dumps(results, indent=2))


def _on_throwaway_server(
    images: int, batch: int, rounds: int, read_latency_ms: float, threads: int | None, analyze: bool = True
) -> dict[str, object]:
    """A private PostgreSQL cluster (temp dir, free port) for the run, as the tests start one."""
    from tests.postgres_server import start_server

    server, reason = start_server()
    if server is None:
        return {"engine": "postgresql", "skipped": reason}
    try:
        url = server.url(server.create_database())
        postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        return worker_scaling(images, batch, rounds, url, read_latency_ms, threads, postmaster, analyze)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
