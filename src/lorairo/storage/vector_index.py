"""A similarity index over unit vectors: coarse cells (IVF) in memory-mapped `.npy` files.

Chosen on `benchmarks/similarity_bench.py`'s figures over usearch's HNSW and sqlite-vec (see the
README): at 100k x 512 it answers a query by scanning the few cells nearest the query instead of
every vector, and it groups near-duplicates by comparing each cell only with the vectors that lie
near it, a few blocked matrix products instead of an n x n one. It needs nothing beyond numpy,
works the same whichever database holds the vectors, and reads its files through memory maps, so
the process holds the centroids and the touched cells, not the whole set.

The index is a cache: `build` streams (ids, vectors) blocks from the store twice (a sample for
the centroids, then every vector to its cell), writes a new folder and swaps it in; `meta.json`
keeps the store's fingerprint so a stale index is noticed and rebuilt.
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

Blocks = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]
Step = Callable[[int, int], None]  # (done, total) after each unit of work; it may raise to stop
FORMAT = 1
KMEANS_ROUNDS = 8
SAMPLE_PER_CELL = 40
GROUP_PROBES = 3  # cells each vector is compared in when grouping
BLOCK = 8192


def cell_count(n: int) -> int:
    """About 2 sqrt(n) cells (~160 vectors each at 100k): few enough to rank per query, small
    enough that scanning a handful is far cheaper than scanning everything."""
    return max(1, min(n, int(2 * math.sqrt(n))))


def no_step(done: int, total: int) -> None:
    """The default `Step`: callers that neither show progress nor cancel."""


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    return cast(np.ndarray, vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12))


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest of each row, unordered (k may exceed the width)."""
    k = min(k, scores.shape[-1])
    if k == scores.shape[-1]:
        return np.broadcast_to(np.arange(k), (*scores.shape[:-1], k)).copy()
    return np.argpartition(-scores, k - 1, axis=-1)[..., :k]


def spherical_kmeans(sample: np.ndarray, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Unit centroids of `sample` by cosine; empty cells restart on a random sample row."""
    centroids = sample[rng.choice(len(sample), cells, replace=False)].copy()
    for _ in range(KMEANS_ROUNDS):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, sample)
        empty = np.flatnonzero(np.bincount(nearest, minlength=cells) == 0)
        sums[empty] = sample[rng.choice(len(sample), len(empty))]
        centroids = _unit(sums)
    return centroids


@dataclass(frozen=True)
class Neighbours:
    ids: np.ndarray  # int64, nearest first
    similarities: np.ndarray  # float32 cosine


class VectorIndex:
    """An opened index folder: `centroids.npy`, `offsets.npy` (cell c holds rows offsets[c] to
    offsets[c + 1]), `ids.npy` and `vectors.npy` (float32: numpy widens float16 at ~10 ns a value, which
    dominated queries; rows grouped by cell), `meta.json`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.centroids = np.load(folder / "centroids.npy")
        self.offsets = np.load(folder / "offsets.npy")
        self.ids = np.load(folder / "ids.npy", mmap_mode="r")
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r")

    @property
    def fingerprint(self) -> list[int]:
        return list(self.meta["fingerprint"])

    def __len__(self) -> int:
        return int(self.meta["count"])

    @staticmethod
    def open(folder: Path, fingerprint: Iterable[int]) -> VectorIndex | None:
        """The index in `folder` if it exists and was built from data with this fingerprint."""
        try:
            index = VectorIndex(folder)
        except (OSError, ValueError, KeyError):
            return None
        if index.meta.get("format") != FORMAT or index.fingerprint != list(fingerprint):
            return None
        return index

    @staticmethod
    def build(
        folder: Path,
        blocks: Blocks,
        count: int,
        fingerprint: Iterable[int],
        *,
        seed: int = 0,
        step: Step = no_step,
    ) -> VectorIndex:
        """Build from two passes over `blocks()` (count = the rows it yields) and swap it in.
        `step` hears (rows done, 2 x count) after each block; if it raises, the half-built folder
        is removed and the old index (if any) stays in place."""
        rng = np.random.default_rng(seed)
        staging = folder.with_name(f"{folder.name}.{uuid.uuid4().hex[:8]}.building")
        staging.mkdir(parents=True)
        try:
            _write(staging, blocks, count, list(fingerprint), rng, step)
            old = folder.with_name(f"{folder.name}.{uuid.uuid4().hex[:8]}.old")
            if folder.exists():
                folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return VectorIndex(folder)

    def _cell_rows(self, cells: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        parts = [(int(self.offsets[c]), int(self.offsets[c + 1])) for c in cells]
        ids = np.concatenate([self.ids[a:b] for a, b in parts]) if parts else np.empty(0, np.int64)
        vectors = (
            np.concatenate([self.vectors[a:b] for a, b in parts])
            if parts
            else np.empty((0, self.centroids.shape[1]), np.float32)
        )
        return ids, vectors

    def search(
        self,
        query: np.ndarray,
        *,
        limit: int | None = 50,
        min_similarity: float | None = None,
        probes: int | None = None,
        exclude: Iterable[int] = (),
    ) -> Neighbours:
        """The nearest vectors to `query` among the `probes` nearest cells (default: enough cells
        for about 6% of the vectors, at least 16), best first; `limit` None keeps all above
        `min_similarity`."""
        if len(self) == 0:
            return Neighbours(np.empty(0, np.int64), np.empty(0, np.float32))
        query = _unit(query.reshape(1, -1))[0]
        cells = len(self.centroids)
        probes = probes or max(16, math.ceil(cells * 0.06))
        nearest = _top(self.centroids @ query, probes)
        ids, vectors = self._cell_rows(nearest)
        similarities = vectors @ query
        keep = ~np.isin(ids, np.fromiter(exclude, np.int64))
        if min_similarity is not None:
            keep &= similarities >= min_similarity
        ids, similarities = ids[keep], similarities[keep]
        order = np.argsort(-similarities, kind="stable")
        if limit is not None:
            order = order[:limit]
        return Neighbours(ids[order], similarities[order])

    def pairs(
        self, threshold: float, probes: int = GROUP_PROBES, step: Step = no_step
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every pair (a, b), a < b by id, with cosine >= threshold, found by comparing each cell's
        vectors with the vectors that have that cell among their `probes` nearest centroids.
        `step` hears (cells done, cells) after each cell (it may raise to stop: nothing is kept)."""
        n, cells = len(self), len(self.centroids)
        if n < 2:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        probes = min(probes, cells)
        near = np.empty((n, probes), np.int32)  # each row's nearest cells
        for start in range(0, n, BLOCK):
            block = self.vectors[start : start + BLOCK]
            near[start : start + BLOCK] = _top(block @ self.centroids.T, probes)
        flat = near.ravel()
        by_cell = np.argsort(flat, kind="stable")
        bounds = np.searchsorted(flat[by_cell], np.arange(cells + 1))
        firsts: list[np.ndarray] = []
        seconds: list[np.ndarray] = []
        for cell in range(cells):
            step(cell, cells)
            a, b = int(self.offsets[cell]), int(self.offsets[cell + 1])
            queries = by_cell[bounds[cell] : bounds[cell + 1]] // probes
            if b == a or len(queries) == 0:
                continue
            members = self.vectors[a:b]
            asking = self.vectors[np.sort(queries)]
            rows, cols = np.nonzero(asking @ members.T >= threshold)
            left, right = self.ids[np.sort(queries)[rows]], self.ids[a + cols]
            distinct = left != right
            firsts.append(np.minimum(left, right)[distinct])
            seconds.append(np.maximum(left, right)[distinct])
        step(cells, cells)
        if not firsts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        edges = np.unique(np.stack([np.concatenate(firsts), np.concatenate(seconds)], axis=1), axis=0)
        return edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64)


def components(first: np.ndarray, second: np.ndarray) -> list[np.ndarray]:
    """Connected groups (each sorted, largest group first) of the graph with these edges, by
    vectorised label propagation with pointer jumping: no Python loop over pairs."""
    if len(first) == 0:
        return []
    nodes, inverse = np.unique(np.concatenate([first, second]), return_inverse=True)
    a, b = inverse[: len(first)], inverse[len(first) :]
    labels = np.arange(len(nodes))
    while True:
        low = np.minimum(labels[a], labels[b])
        updated = labels.copy()
        np.minimum.at(updated, a, low)
        np.minimum.at(updated, b, low)
        updated = updated[updated]
        if np.array_equal(updated, labels):
            break
        labels = updated
    order = np.argsort(labels, kind="stable")
    splits = np.flatnonzero(np.diff(labels[order])) + 1
    groups = [np.sort(nodes[part]) for part in np.split(order, splits)]
    return sorted(groups, key=lambda g: (-len(g), int(g[0])))


def _write(
    folder: Path, blocks: Blocks, count: int, fingerprint: list[int], rng: np.random.Generator, step: Step
) -> None:
    cells = cell_count(count)
    dims = 0
    sample_rows: list[np.ndarray] = []
    keep_ratio = min(1.0, SAMPLE_PER_CELL * cells / max(count, 1))
    seen = 0
    for _, vectors in blocks():  # pass 1: a uniform sample for the centroids
        dims = vectors.shape[1]
        seen += len(vectors)
        step(seen, 2 * count)
        chosen = rng.random(len(vectors)) < keep_ratio
        sample_rows.append(np.asarray(vectors[chosen], np.float32))
    if seen != count:
        raise ValueError(f"the store yielded {seen} vectors, expected {count}")
    sample = _unit(np.concatenate(sample_rows)) if sample_rows else np.empty((0, dims), np.float32)
    del sample_rows
    if count and len(sample) < cells:
        cells = max(1, len(sample))
    centroids = spherical_kmeans(sample, cells, rng) if count else np.zeros((1, max(dims, 1)), np.float32)
    del sample
    ids_raw = np.lib.format.open_memmap(folder / "ids.raw.npy", "w+", np.int64, (count,))
    vectors_raw = np.lib.format.open_memmap(
        folder / "vectors.raw.npy", "w+", np.float32, (count, max(dims, 1))
    )
    assigned = np.empty(count, np.int32)
    position = 0
    for ids, vectors in blocks():  # pass 2: every vector to its nearest cell
        end = position + len(ids)
        unit = _unit(vectors)
        ids_raw[position:end] = ids
        vectors_raw[position:end] = unit
        assigned[position:end] = np.argmax(unit @ centroids.T, axis=1)
        position = end
        step(count + position, 2 * count)
    order = np.argsort(assigned, kind="stable")
    offsets = np.searchsorted(assigned[order], np.arange(len(centroids) + 1)).astype(np.int64)
    ids_out = np.lib.format.open_memmap(folder / "ids.npy", "w+", np.int64, (count,))
    vectors_out = np.lib.format.open_memmap(folder / "vectors.npy", "w+", np.float32, (count, max(dims, 1)))
    for start in range(0, count, BLOCK):
        rows = order[start : start + BLOCK]
        ids_out[start : start + len(rows)] = ids_raw[rows]
        vectors_out[start : start + len(rows)] = vectors_raw[rows]
    ids_out.flush()
    vectors_out.flush()
    del ids_raw, vectors_raw, ids_out, vectors_out
    (folder / "ids.raw.npy").unlink()
    (folder / "vectors.raw.npy").unlink()
    np.save(folder / "centroids.npy", centroids.astype(np.float32))
    np.save(folder / "offsets.npy", offsets)
    meta = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "count": count,
        "dimensions": dims,
        "cells": len(centroids),
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
