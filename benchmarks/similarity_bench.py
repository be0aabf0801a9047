"""Similarity benchmark: 100k images with synthetic 512-d embeddings, index choices side by side.

Data: unit vectors around 3000 "subjects" (cosine ~0.75 within one), of which 20% are near-copies
of another image (cosine ~0.98, groups of 2 to several), stored as float16 rows of
`image_embeddings` in a real project database (images of many sizes), inserted directly.

Measured in one run, each against exact brute force on the same vectors:
  - flat numpy scan (float32 matrix in memory): the exact baseline, query p50/p99;
  - usearch HNSW (float16), sqlite-vec `vec0` (float32, brute force in SQLite), and the coarse-cell
    index LoRAIro uses (`storage/vector_index.py`): build time, query p50/p99, recall@10, memory;
  - `SimilarityService.similar` end to end (what `lorairo images similar` runs: open the cache,
    look up the query vector, search, names from the database);
  - semantic duplicate grouping of all images (`SimilarityService.duplicates`, threshold 0.95)
    against a brute-force blocked matrix product: time and recall of the pairs.

    uv run python benchmarks/similarity_bench.py [--n 100000] [--queries 200] [--skip-brute-groups]

Goals (issue 15): `images similar` p99 <= 50 ms, grouping < 60 s on a 2-core machine, recall@10 >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import psutil

from lorairo.database.embedding_repository import to_blob
from lorairo.database.engine import Database
from lorairo.services.project_service import Project
from lorairo.services.similarity_service import SimilarityService
from lorairo.storage.vector_index import VectorIndex, components

DIMS = 512
K = 10
THRESHOLD = 0.95
MODEL = "bench-clip"


def synthetic(n: int, rng: np.random.Generator) -> np.ndarray:
    subjects = rng.normal(size=(3000, DIMS)).astype(np.float32)
    vectors = subjects[rng.integers(0, len(subjects), n)] + rng.normal(scale=0.6, size=(n, DIMS)).astype(
        np.float32
    )
    copies = rng.choice(n, n // 5, replace=False)
    originals = rng.integers(0, n, n // 5)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[copies] = vectors[originals] + rng.normal(scale=0.008, size=(len(copies), DIMS)).astype(
        np.float32
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float16).astype(np.float32)  # what the store holds


def fill_project(database: Database, vectors: np.ndarray) -> None:
    now = datetime(2026, 1, 1)
    with database.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO models (id, name, type, created_at) VALUES (1, ?, 'embedder', ?)", (MODEL, now)
        )
        for start in range(0, len(vectors), 10_000):
            ids = range(start + 1, min(len(vectors), start + 10_000) + 1)
            conn.exec_driver_sql(
                "INSERT INTO images (id, file_path, stored_path, name, file_size, width, height, format, mode,"
                " has_alpha, sha256, phash, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        i,
                        f"/s/{i}.png",
                        f"/st/{i}.png",
                        f"img_{i}.png",
                        1000,
                        256 + (i * 37) % 2048,
                        256 + (i * 53) % 2048,
                        ("PNG", "JPEG", "WEBP")[i % 3],
                        "RGB",
                        0,
                        f"{i:064x}",
                        i,
                        now,
                        now,
                    )
                    for i in ids
                ],
            )
            conn.exec_driver_sql(
                "INSERT INTO image_embeddings (image_id, model_id, dimensions, vector, created_at)"
                " VALUES (?, 1, ?, ?, ?)",
                [(i, DIMS, to_blob(vectors[i - 1]), now) for i in ids],
            )


def anonymous_rss() -> int:
    """Resident anonymous memory (Linux `RssAnon`): what the process itself holds. Pages of
    memory-mapped index files are page cache the kernel can drop, so they are left out; elsewhere
    plain RSS (an upper bound)."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for text in status:
                if text.startswith("RssAnon:"):
                    return int(text.split()[1]) * 1024
    except OSError:
        pass
    return int(psutil.Process(os.getpid()).memory_info().rss)


class PeakRss:
    """The process's peak anonymous resident memory above where it started, sampled every 20 ms."""

    def __init__(self) -> None:
        self.start = self.peak = anonymous_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, anonymous_rss())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, anonymous_rss())

    @property
    def mib(self) -> float:
        return (self.peak - self.start) / 2**20


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def timed(fn: Callable[[int], list[int]], queries: np.ndarray) -> tuple[list[float], list[list[int]]]:
    times, found = [], []
    for row in queries:
        started = time.perf_counter()
        found.append(fn(int(row)))
        times.append(time.perf_counter() - started)
    return times, found


def recall(found: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(f[:K]) & set(e)) / K for f, e in zip(found, exact, strict=True)]))


def line(name: str, build: float | None, times: list[float], rec: float, memory: str, base: float) -> None:
    p50, p99 = percentiles(times)
    built = "-" if build is None else f"{build:7.1f}"
    print(
        f"{name:<34} {built:>8} {p50:9.2f} {p99:9.2f} {base / p50 if p50 else 0:8.1f}x {rec:8.3f}  {memory}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--skip-brute-groups", action="store_true", help="skip the n x n brute-force grouping"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start; n = {args.n}, {DIMS}-d")
    vectors = synthetic(args.n, rng)
    ids = np.arange(1, args.n + 1)
    queries = rng.choice(args.n, args.queries, replace=False)

    exact_times, exact = [], []
    for row in queries:  # baseline: flat numpy scan over the float32 matrix in memory
        started = time.perf_counter()
        scores = vectors @ vectors[row]
        scores[row] = -2
        top = np.argpartition(-scores, K)[:K]
        exact.append([int(i) for i in ids[top[np.argsort(-scores[top])]]])
        exact_times.append(time.perf_counter() - started)
    base = percentiles(exact_times)[0]
    print(
        f"\n{'query (k=10)':<34} {'build s':>8} {'p50 ms':>9} {'p99 ms':>9} {'vs flat':>9} {'recall':>8}  memory"
    )
    line(
        "flat numpy scan (exact, f32 RAM)",
        None,
        exact_times,
        1.0,
        f"{vectors.nbytes / 2**20:.0f} MiB matrix",
        base,
    )

    try:
        from usearch.index import Index

        with PeakRss() as rss:
            started = time.perf_counter()
            hnsw = Index(ndim=DIMS, metric="cos", dtype="f16")
            hnsw.add(ids, vectors, threads=os.cpu_count() or 1)
            built = time.perf_counter() - started

        def hnsw_query(row: int) -> list[int]:
            keys = hnsw.search(vectors[row], K + 1).keys
            return [int(k) for k in keys if k != row + 1][:K]

        times, found = timed(hnsw_query, queries)
        line("usearch HNSW f16", built, times, recall(found, exact), f"+{rss.mib:.0f} MiB anon", base)
    except ImportError:
        print("usearch not installed (uv sync --group dev)")

    try:
        import apsw  # CPython's sqlite3 here is built without extension loading
        import sqlite_vec

        folder = Path(tempfile.mkdtemp())
        connection = apsw.Connection(str(folder / "vec.db"))
        connection.enable_load_extension(True)
        connection.load_extension(sqlite_vec.loadable_path())
        started = time.perf_counter()
        connection.execute(
            f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{DIMS}] distance_metric=cosine)"
        )
        for start in range(0, args.n, 5000):
            with connection:
                connection.executemany(
                    "INSERT INTO v(rowid, embedding) VALUES (?, ?)",
                    [(int(i), vectors[i - 1].tobytes()) for i in ids[start : start + 5000]],
                )
        built = time.perf_counter() - started

        def vec_query(row: int) -> list[int]:
            hits = connection.execute(
                "SELECT rowid FROM v WHERE embedding MATCH ? AND k = ? ORDER BY distance",
                (vectors[row].tobytes(), K + 1),
            )
            return [r for (r,) in hits if r != row + 1][:K]

        times, found = timed(vec_query, queries[: max(20, args.queries // 4)])
        size = (folder / "vec.db").stat().st_size / 2**20
        line(
            "sqlite-vec vec0 f32 (brute force)",
            built,
            times,
            recall(found, exact[: len(found)]),
            f"{size:.0f} MiB file",
            base,
        )
        connection.close()
    except ImportError:
        print("sqlite-vec or apsw not installed (uv sync --group dev)")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        database = Database(root / "database.db")
        started = time.perf_counter()
        fill_project(database, vectors)
        print(
            f"\n(project of {args.n} images + float16 embeddings written in {time.perf_counter() - started:.1f}s)"
        )
        project = Project("bench", root, database)
        service = SimilarityService(project)
        with PeakRss() as rss:
            started = time.perf_counter()
            service.index(MODEL)  # built from the stored rows, streamed in blocks
            built = time.perf_counter() - started
        with database.read_session() as session:
            fingerprint = service.repository.fingerprint(session, 1)
        index = VectorIndex.open(next((root / "cache" / "vectors").iterdir()), fingerprint)
        assert index is not None
        files = sum(f.stat().st_size for f in index.folder.iterdir()) / 2**20

        def ivf_query(row: int) -> list[int]:
            return [int(i) for i in index.search(vectors[row], limit=K, exclude=[row + 1]).ids]

        times, found = timed(ivf_query, queries)
        line(
            f"coarse cells ({len(index.centroids)} cells, chosen)",
            built,
            times,
            recall(found, exact),
            f"+{rss.mib:.0f} MiB anon building, {files:.0f} MiB files",
            base,
        )

        def similar(row: int) -> list[int]:
            return [r.id for r in service.similar(row + 1, limit=K).results]

        with PeakRss() as rss:
            times, found = timed(similar, queries)
        line(
            "`images similar` (service, end to end)",
            None,
            times,
            recall(found, exact),
            f"+{rss.mib:.0f} MiB anon",
            base,
        )

        print(f"\ngrouping all {args.n} at cosine >= {THRESHOLD}")
        with PeakRss() as rss:
            started = time.perf_counter()
            report = service.duplicates(threshold=THRESHOLD)
            grouped = time.perf_counter() - started
        print(
            f"  SimilarityService.duplicates: {grouped:.1f}s, {report.pairs} pairs, {len(report.groups)} groups, "
            f"+{rss.mib:.0f} MiB anon"
        )
        if not args.skip_brute_groups:
            started = time.perf_counter()
            firsts, seconds = [], []
            for start in range(0, args.n, 4096):
                rows, cols = np.nonzero(vectors[start : start + 4096] @ vectors.T >= THRESHOLD)
                keep = start + rows < cols
                firsts.append(ids[start + rows[keep]])
                seconds.append(ids[cols[keep]])
            brute = time.perf_counter() - started
            exact_pairs = set(
                zip(np.concatenate(firsts).tolist(), np.concatenate(seconds).tolist(), strict=True)
            )
            a, b = index.pairs(THRESHOLD)
            found_pairs = set(zip(a.tolist(), b.tolist(), strict=True))
            exact_groups = len(components(np.concatenate(firsts), np.concatenate(seconds)))
            print(
                f"  brute force blocked matrix product: {brute:.1f}s, {len(exact_pairs)} pairs, {exact_groups} groups"
            )
            print(
                f"  speed-up {brute / grouped:.1f}x, pair recall {len(exact_pairs & found_pairs) / max(1, len(exact_pairs)):.4f}"
            )
        project.close()
    print(
        f"\nload {os.getloadavg()[0]:.1f} at the end (2 cores shared with other work: figures are upper bounds)"
    )


if __name__ == "__main__":
    main()
