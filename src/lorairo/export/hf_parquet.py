"""Hugging Face parquet shards with the images embedded (`--hf-parquet`): `data/train-NNNNN.parquet`.

The Hub's automatic data files pattern picks `data/train-*` as the train split, and the schema
carries the `huggingface` features metadata (`image` as an `Image` feature, a struct of `bytes` and
`path`) that `datasets` reads to decode images, exactly what `Dataset.push_to_hub` writes. Rows are
buffered to `ROW_GROUP_BYTES` and shards end at `SHARD_BYTES`, so memory stays flat.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lorairo.export.item import ExportItem
from lorairo.export.options import ExportOptions
from lorairo.export.staging import Staging

PARQUET_DIR = "data"
ROW_GROUP_BYTES = 64 << 20
SHARD_BYTES = 500 << 20


def _schema(with_concepts: bool) -> pa.Schema:
    fields = [
        pa.field("image", pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])),
        pa.field("tags", pa.string()),
        pa.field("caption", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("rating", pa.string()),
    ]
    features: dict[str, Any] = {
        "image": {"_type": "Image"},
        "tags": {"dtype": "string", "_type": "Value"},
        "caption": {"dtype": "string", "_type": "Value"},
        "score": {"dtype": "float64", "_type": "Value"},
        "rating": {"dtype": "string", "_type": "Value"},
    }
    if with_concepts:
        fields += [pa.field("concept", pa.string()), pa.field("is_reg", pa.bool_())]
        features |= {
            "concept": {"dtype": "string", "_type": "Value"},
            "is_reg": {"dtype": "bool", "_type": "Value"},
        }
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    return pa.schema(fields, metadata=metadata)


class HfParquetWriter:
    def __init__(self, staging: Staging, options: ExportOptions) -> None:
        self.staging = staging
        self.options = options
        self.schema = _schema(bool(options.concepts))
        self.rows: list[dict[str, Any]] = []
        self.buffered = 0
        self.shard = -1
        self.shard_bytes = 0
        self.writer: pq.ParquetWriter | None = None
        (staging.path / PARQUET_DIR).mkdir(exist_ok=True)

    def add(self, item: ExportItem) -> None:
        data = (self.staging.path / item.path).read_bytes()
        row: dict[str, Any] = {
            "image": {"bytes": data, "path": item.file_name},
            "tags": item.text.tags_text(item.options),
            "caption": item.text.caption,
            "score": item.text.score,
            "rating": item.text.rating,
        }
        if self.options.concepts:
            row |= {"concept": item.concept.name, "is_reg": item.concept.is_reg}
        self.rows.append(row)
        self.buffered += len(data)
        if self.buffered >= ROW_GROUP_BYTES:
            self._flush()

    def _relative(self) -> str:
        return f"{PARQUET_DIR}/train-{self.shard:05d}.parquet"

    def _flush(self) -> None:
        if not self.rows:
            return
        if self.writer is None or self.shard_bytes >= SHARD_BYTES:
            self._close_shard()
            self.shard += 1
            self.writer = pq.ParquetWriter(self.staging.path / self._relative(), self.schema)
        self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
        self.shard_bytes += self.buffered
        self.rows, self.buffered = [], 0

    def _close_shard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            self.shard_bytes = 0
            self.staging.adopt(self._relative())

    def close(self) -> None:
        self._flush()
        self._close_shard()
