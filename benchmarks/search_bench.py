"""Search and bulk-edit benchmark at dataset scale.

Builds a project of N images (default 100k) with ~30 tags each (3M tag rows), one caption, one
aesthetic score and one rating per image, inserted directly with executemany (no image files).
Times ten representative queries and prints p50/p99 per query for: the GUI's call (page of 50
ids + summaries + total count), the page without the total, and the count alone; first without
the search index of migration 0003 (baseline: the indexes before this feature), then with it. Then times a bulk tag add over 10k images and its
undo. Run: uv run python benchmarks/search_bench.py [--n 100000] [--reps 20]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lorairo.database.engine import Database
from lorairo.services.edit_service import EditService, EditTarget
from lorairo.services.project_service import Project
from lorairo.services.search_service import SearchService

QUERIES = {
    "single tag": "tag:1girl",
    "AND of three": "tag:1girl tag:smile tag:long_hair",
    "NOT": "tag:1girl -tag:monochrome",
    "wildcard": "tag:*_hair",
    "caption phrase": 'caption:"red dress"',
    "score range": "score:6..8",
    "missing model": "missing:wd-vit-tagger-v3",
    "combined": "tag:1girl score:>6.5 rating:general,sensitive -tag:monochrome",
    "rare tag": "tag:tag_4321",
    "OR + size": "(tag:cat OR tag:dog) width:>=1024",
    "bare word": "smile",
    "bare word in tags": "hair",  # matches "long hair", "red hair"...: ranked after exact "hair"
}
COMMON = [
    "1girl",
    "solo",
    "smile",
    "long hair",
    "short hair",
    "red hair",
    "monochrome",
    "cat",
    "dog",
    "blush",
]
WORDS = ["a", "girl", "in", "red", "dress", "blue", "sky", "with", "cat", "smiling", "outdoors", "hat"]
SEARCH_INDEX = (
    "CREATE INDEX ix_tags_search ON tags (tag COLLATE NOCASE, is_accepted, rejected_at, removed_at, image_id)"
)


def build(database: Database, n: int, tags_per_image: int, rng: np.random.Generator) -> None:
    vocab = COMMON + [f"tag {i}" for i in range(5000)]
    # Per-draw probabilities: with 30 draws, 1girl lands on ~60% of images, the rest follow Zipf.
    common = np.linspace(0.03, 0.004, len(COMMON))
    tail = 1.0 / np.arange(1, len(vocab) - len(COMMON) + 1) ** 0.9
    weights = np.concatenate([common, tail / tail.sum() * (1 - common.sum())])
    now = datetime(2026, 1, 1)
    with database.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO models (id, name, type, created_at) VALUES (1, 'wd-vit-tagger-v3', 'tagger', ?)",
            (now,),
        )
        for start in range(0, n, 10_000):
            ids = range(start + 1, min(n, start + 10_000) + 1)
            conn.exec_driver_sql(
                "INSERT INTO images (id, file_path, stored_path, name, file_size, width, height, format, mode,"
                " has_alpha, sha256, phash, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        i,
                        f"/src/{i}.png",
                        f"/store/{i}.png",
                        f"img_{i}.png",
                        1000,
                        int(512 + (i * 37) % 1024),
                        int(512 + (i * 53) % 1024),
                        "PNG",
                        "RGB",
                        0,
                        f"{i:064x}",
                        i,
                        now + timedelta(seconds=i),
                        now,
                    )
                    for i in ids
                ],
            )
            tag_rows = []
            for i in ids:
                chosen = rng.choice(len(vocab), size=tags_per_image, replace=False, p=weights)
                for position, index in enumerate(chosen):
                    tag_rows.append(
                        (
                            i,
                            1,
                            "model",
                            vocab[index],
                            "general",
                            float(rng.random()),
                            1,
                            position,
                            0,
                            now if rng.random() < 0.01 else None,
                            now,
                            now,
                        )
                    )
            conn.exec_driver_sql(
                "INSERT INTO tags (image_id, model_id, source, tag, category, confidence, is_accepted, position,"
                " is_edited_manually, rejected_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                tag_rows,
            )
            conn.exec_driver_sql(
                "INSERT INTO captions (image_id, model_id, source, caption, is_edited_manually, created_at,"
                " updated_at) VALUES (?, 1, 'model', ?, 0, ?, ?)",
                [(i, " ".join(rng.choice(WORDS, size=8)), now, now) for i in ids],
            )
            conn.exec_driver_sql(
                "INSERT INTO scores (image_id, model_id, source, kind, score, scale_max, is_edited_manually,"
                " created_at) VALUES (?, 1, 'model', 'aesthetic', ?, 10, 0, ?)",
                [(i, float(rng.uniform(0, 10)), now) for i in ids],
            )
            ratings = ["general", "sensitive", "questionable", "explicit"]
            conn.exec_driver_sql(
                "INSERT INTO ratings (image_id, model_id, source, rating, is_edited_manually, created_at)"
                " VALUES (?, 1, 'model', ?, 0, ?)",
                [(i, ratings[int(rng.integers(0, 4))], now) for i in ids],
            )
            conn.exec_driver_sql(
                "INSERT INTO model_annotations (image_id, model_id, annotated_at) VALUES (?, 1, ?)",
                [(i, now) for i in ids if i % 10 < 7],
            )
        conn.exec_driver_sql("ANALYZE")


def p50_p99(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]


def time_queries(service: SearchService, reps: int, *, split: bool = True) -> dict[str, dict[str, Any]]:
    """Per query, three timings (ms): `search` is what the GUI asks for one screen (first page of
    50 ids + their summaries + the total count, one call); `page` is the same without the total;
    `count` is the total alone (both only with `split`). The page still counts internally to
    choose its plan (walk the sort index vs. sort the id stream), so `page` includes one count."""
    results: dict[str, dict[str, Any]] = {}
    for label, query in QUERIES.items():
        samples: dict[str, list[float]] = {"search": [], "page": [], "count": []}
        total = 0
        for _ in range(reps):
            start = time.perf_counter()
            total = service.search(query, limit=50).total or 0
            samples["search"].append((time.perf_counter() - start) * 1000)
            if not split:
                continue
            start = time.perf_counter()
            service.search(query, limit=50, with_total=False)
            samples["page"].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            service.count(query)
            samples["count"].append((time.perf_counter() - start) * 1000)
        results[label] = {"total": total, **{key: p50_p99(value) for key, value in samples.items() if value}}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="images")
    parser.add_argument("--tags", type=int, default=30, help="tags per image")
    parser.add_argument("--reps", type=int, default=20, help="runs per query")
    parser.add_argument("--baseline-reps", type=int, default=5, help="runs per query without the index")
    parser.add_argument("--edit-images", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(Path(tmp) / "database.db")
        start = time.perf_counter()
        build(database, args.n, args.tags, rng)
        print(
            f"built {args.n:,} images, {args.n * args.tags:,} tag rows in {time.perf_counter() - start:.1f} s"
        )
        project = Project("bench", Path(tmp), database)
        service = SearchService(project)

        with database.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_tags_search")
        baseline = time_queries(service, args.baseline_reps, split=False)
        with database.engine.begin() as conn:
            conn.exec_driver_sql(SEARCH_INDEX)
            conn.exec_driver_sql("ANALYZE")
        ours = time_queries(service, args.reps)

        header = f"{'query':16} {'matches':>8} | {'baseline search p50/p99':>23} |"
        print(f"\n{header} {'search p50/p99':>15} | {'page p50/p99':>13} | {'count p50/p99':>13} | ratio")
        for label in QUERIES:
            base, mine = baseline[label], ours[label]
            assert base["total"] == mine["total"], label
            cells = [f"{mine[key][0]:6.1f}/{mine[key][1]:6.1f}" for key in ("search", "page", "count")]
            print(
                f"{label:16} {mine['total']:>8,} | {base['search'][0]:10.1f}/{base['search'][1]:10.1f}ms |"
                f" {cells[0]:>15} | {cells[1]:>13} | {cells[2]:>13} | {base['search'][0] / mine['search'][0]:5.1f}x"
            )
        print(
            f"(ms; baseline: {args.baseline_reps} runs/query without ix_tags_search; ours: {args.reps} runs/query;"
            " search = page of 50 + summaries + total; p99 of few runs is close to the max)"
        )

        edits = EditService(project)
        target = EditTarget(query=f"id:<={args.edit_images}")
        start = time.perf_counter()
        dry = edits.add_tags(target, ["benchmark tag"])
        dry_s = time.perf_counter() - start
        start = time.perf_counter()
        applied = edits.add_tags(target, ["benchmark tag"], apply=True)
        apply_s = time.perf_counter() - start
        start = time.perf_counter()
        undone = edits.undo()
        undo_s = time.perf_counter() - start
        assert dry.rows_inserted == applied.rows_inserted == undone.rows
        print(
            f"\nbulk add over {applied.images_changed:,} images: dry run {dry_s:.2f} s, apply {apply_s:.2f} s,"
            f" undo {undo_s:.2f} s ({undone.rows:,} rows)"
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak_mb:.0f} MB")
        database.close()


if __name__ == "__main__":
    main()
