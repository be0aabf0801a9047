"""Tag database benchmark: bulk normalisation throughput and autocomplete latency.

Generates a tag DB of N tags and N/2 aliases under a temp dir, then
  * normalises 1,000,000 tags (100k images x 10, Zipf-distributed, mixed spellings) in batches of
    1,000 images through `TagDatabase.normalize`, against a baseline of one query per tag;
  * measures autocomplete p50/p99 for 1-4 letter prefixes through `TagDatabase.search`, against a
    baseline `LIKE 'prefix%' ORDER BY count` over the tag tables.

    uv run python benchmarks/tagdb_bench.py [--n 200000] [--images 100000]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import event, text

from genai_tag_db_tools.cleaning import lookup_key
from genai_tag_db_tools.db.builder import Record, TagRecord
from genai_tag_db_tools.db.database import TagDatabase
from genai_tag_db_tools.importers import import_records

SYLLABLES = [a + b for a in "bcdfghjklmnprstvwyz" for b in "aeiou"] + ["n", "x", "q"]
TYPES = ["general"] * 14 + ["artist", "copyright", "character", "character", "meta"]


def make_names(n: int, rng: random.Random) -> list[str]:
    names: set[str] = set()
    while len(names) < n:
        words = rng.choice([1, 2, 2, 3])
        names.add("_".join("".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(words)))
    return sorted(names, key=lambda _: rng.random())


def records(names: list[str], aliases: list[tuple[str, str]], rng: random.Random) -> Iterator[Record]:
    for rank, name in enumerate(names):
        yield TagRecord(name, type=rng.choice(TYPES), usage_count=int(5_000_000 / (rank + 1)))
    for alias, preferred in aliases:
        yield TagRecord(alias, preferred=preferred)


def spell(tag: str, rng: random.Random) -> str:
    """Taggers and sidecars disagree on underscores and case."""
    roll = rng.random()
    if roll < 0.5:
        return tag
    if roll < 0.8:
        return tag.replace("_", " ")
    return tag.replace("_", " ").title()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000, help="tags (aliases = n/2)")
    parser.add_argument("--images", type=int, default=100_000, help="images x 10 tags to normalise")
    parser.add_argument("--queries", type=int, default=400, help="autocomplete queries per prefix length")
    args = parser.parse_args()
    rng = random.Random(6)

    with tempfile.TemporaryDirectory() as tmp:
        names = make_names(args.n + args.n // 2, rng)
        tags, alias_names = names[: args.n], names[args.n :]
        aliases = [(alias, tags[int(rng.paretovariate(1.0)) % args.n]) for alias in alias_names]
        db = TagDatabase(Path(tmp) / "tagdb")
        start = time.perf_counter()
        report = import_records(db, records(tags, aliases, rng), source="generated")
        print(
            f"import: {report.tags:,} tags, {report.aliases:,} aliases in {time.perf_counter() - start:.1f} s"
        )

        vocabulary = tags + alias_names + [f"unknown_{i}" for i in range(2_000)]
        weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
        pool = rng.choices(vocabulary, weights=weights, k=200_000)
        images = [[spell(rng.choice(pool), rng) for _ in range(10)] for _ in range(args.images)]
        total = sum(len(image) for image in images)

        queries = 0

        def count(*_: object) -> None:
            nonlocal queries
            queries += 1

        event.listen(db.engine, "before_cursor_execute", count)
        start = time.perf_counter()
        for batch_start in range(0, len(images), 1_000):
            batch = [tag for image in images[batch_start : batch_start + 1_000] for tag in image]
            db.normalize(batch)
        ours = time.perf_counter() - start
        event.remove(db.engine, "before_cursor_execute", count)

        sample = [tag for image in images[:2_000] for tag in image]
        lookup = text(
            "SELECT p.tag, ps.type FROM tags t JOIN tag_status s ON s.tag_id = t.tag_id AND s.format = 'danbooru' "
            "JOIN tags p ON p.tag_id = s.preferred_tag_id "
            "LEFT JOIN tag_status ps ON ps.tag_id = p.tag_id AND ps.format = 'danbooru' WHERE t.key = :key"
        )
        start = time.perf_counter()
        with db.engine.connect() as connection:
            for tag in sample:
                connection.execute(lookup, {"key": lookup_key(tag)}).first()
        baseline = time.perf_counter() - start
        ours_rate, base_rate = total / ours, len(sample) / baseline
        print(f"normalise {total:,} tags ({args.images:,} images x 10, batches of 1,000 images):")
        print(f"  baseline (one query per tag, {len(sample):,}-tag sample): {base_rate:,.0f} tags/s")
        print(
            f"  ours: {ours_rate:,.0f} tags/s in {ours:.2f} s, {queries} SQL statements for {total // 10_000} batches"
        )
        print(f"  ratio: {ours_rate / base_rate:.1f}x  (goal >= 200,000 tags/s)")

        baseline_sql = text(
            "SELECT t.tag FROM tags t JOIN tag_status s ON s.tag_id = t.tag_id AND s.format = 'danbooru' "
            "WHERE t.key LIKE :pattern ORDER BY s.usage_count DESC LIMIT 10"
        )
        keys = [lookup_key(tag) for tag in rng.sample(tags + alias_names, 5_000)]
        print("autocomplete (limit 10), ms:")
        for length in (1, 2, 3, 4):
            prefixes = [key[:length] for key in rng.sample(keys, args.queries)]
            ours_ms, base_ms = [], []
            for prefix in prefixes:
                start = time.perf_counter()
                db.search(prefix, limit=10)
                ours_ms.append((time.perf_counter() - start) * 1000)
            with db.engine.connect() as connection:
                for prefix in prefixes[:100]:
                    start = time.perf_counter()
                    connection.execute(baseline_sql, {"pattern": prefix + "%"}).all()
                    base_ms.append((time.perf_counter() - start) * 1000)
            p99, base_p99 = percentile(ours_ms, 0.99), percentile(base_ms, 0.99)
            print(
                f"  {length} letter(s): ours p50 {statistics.median(ours_ms):.2f} p99 {p99:.2f} | "
                f"baseline LIKE p50 {statistics.median(base_ms):.2f} p99 {base_p99:.2f} | "
                f"p99 ratio {base_p99 / p99:.1f}x  (goal p99 < 10)"
            )
        db.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
