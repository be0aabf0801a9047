"""Export N registered images in kohya format (copy and hard-link modes) against a plain copy,
then the same images as a two-concept export (one regularisation) in every format against a
plain-Python writer of the same files.

Usage: uv run python benchmarks/export_bench.py [--n 10000] [--tags 12] [--side 256] [--repeat 3]
       [--formats kohya,onetrainer,...]

Generates small noisy images (long side around `--side` px, varied sizes and aspect ratios, one in
five a PNG, the rest JPEG) and their rows (images, a model, tags, captions) directly into a
throwaway project under a temp dir. Part one times `shutil.copytree` of the image folder (the
baseline), the kohya export in copy mode and in hard-link mode (goal: copy mode at most 1.5x).
Part two, per format: an untimed export first, then, interleaved, the export again and the
baseline, which writes exactly that export's files with plain Python (each image a
`shutil.copyfile`, each text file its bytes from memory); goal at most 1.3x. The machine is
shared, so runs are repeated `--repeat` times in rotating order, each after an untimed `sync`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import insert


def generate(project_root: Path, n: int, side: int) -> tuple[list[dict[str, object]], int]:
    rng = np.random.default_rng(0)
    rows = []
    total_bytes = 0
    for index in range(n):
        width = int(side * rng.uniform(0.6, 1.0))
        height = int(width * rng.choice([0.5, 0.75, 1.0, 1.33, 1.5]))
        blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.int16)
        base = np.kron(blocks, np.ones((height // 6 + 1, width // 8 + 1, 1), dtype=np.int16))[:height, :width]
        noise = rng.integers(-24, 25, size=(height, width, 3), dtype=np.int16)
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        fmt, extension = ("PNG", "png") if index % 5 == 0 else ("JPEG", "jpg")
        PILImage.fromarray(pixels, "RGB").save(buffer, format=fmt, quality=85)
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        relative = f"images/{digest[:2]}/{digest}.{extension}"
        path = project_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total_bytes += len(data)
        rows.append(
            {
                "file_path": f"/photos/folder{index % 50}/img_{index % 2000:04d}.jpg",
                "stored_path": relative,
                "name": f"img_{index % 2000:04d}.{extension}",
                "file_size": len(data),
                "width": width,
                "height": height,
                "format": fmt,
                "mode": "RGB",
                "has_alpha": False,
                "sha256": digest,
                "phash": int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True),
            }
        )
    return rows, total_bytes


def populate(database: object, rows: list[dict[str, object]], tags_per_image: int) -> None:
    from lorairo.database.engine import Database
    from lorairo.database.schema import Caption, Image, Model, Tag

    assert isinstance(database, Database)
    vocabulary = [f"tag {i}" for i in range(400)]
    with database.write_session() as session:
        model = Model(name="wd-bench", provider="local", type="tagger")
        session.add(model)
        session.flush()
        model_id = model.id
    for start in range(0, len(rows), 1000):
        with database.write_session() as session:
            session.execute(insert(Image), rows[start : start + 1000])
    rng = np.random.default_rng(1)
    for start in range(1, len(rows) + 1, 1000):
        image_ids = range(start, min(start + 1000, len(rows) + 1))
        tags = [
            {
                "image_id": image_id,
                "model_id": model_id,
                "source": "model",
                "tag": vocabulary[int(k)],
                "raw_tag": vocabulary[int(k)],
                "category": "general",
                "confidence": float(rng.uniform(0.35, 1.0)),
                "is_accepted": True,
                "position": position,
            }
            for image_id in image_ids
            for position, k in enumerate(rng.choice(len(vocabulary), tags_per_image, replace=False))
        ]
        captions = [
            {
                "image_id": image_id,
                "model_id": model_id,
                "source": "model",
                "caption": f"a test image {image_id}",
            }
            for image_id in image_ids
        ]
        with database.write_session() as session:
            session.execute(insert(Tag), tags)
            session.execute(insert(Caption), captions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="images to export")
    parser.add_argument("--tags", type=int, default=12, help="tags per image")
    parser.add_argument("--side", type=int, default=256, help="long side of the generated JPEGs")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (min and median shown)")
    parser.add_argument("--formats", default=",".join(ALL_FORMATS), help="formats of part two (comma list)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lorairo-export-bench-") as tmp:
        base = Path(tmp)
        os.environ["LORAIRO_CONFIG_PATH"] = str(base / "config" / "lorairo.toml")
        os.environ["LORAIRO_DATABASE_DIR"] = str(base / "projects")

        from lorairo.export.options import ExportOptions
        from lorairo.services.configuration_service import ConfigurationService
        from lorairo.services.export_service import ExportService
        from lorairo.services.project_service import ProjectService

        config = ConfigurationService()
        project = ProjectService(config).create("bench")
        started = time.perf_counter()
        rows, total_bytes = generate(project.root, args.n, args.side)
        populate(project.database, rows, args.tags)
        print(
            f"generated {args.n:,} JPEGs ({total_bytes / 1e6:.1f} MB), {args.n * args.tags:,} tags "
            f"in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
        service = ExportService(project, config)
        runs: dict[str, list[float]] = {"plain": [], "copy": [], "link": []}
        exported = files = 0
        labels = list(runs)
        for round_index in range(args.repeat):
            # Rotate the order and flush dirty pages (untimed) first, so no run is charged for the
            # previous run's writeback or gets a head start from an empty page cache.
            for label in labels[round_index % 3 :] + labels[: round_index % 3]:
                target = base / f"{label}-{round_index}"
                os.sync()
                begin = time.perf_counter()
                if label == "plain":
                    shutil.copytree(project.images_dir, target)
                else:
                    report = service.export(ExportOptions(target=target, link=label == "link"))
                    exported, files = report.exported, report.files
                runs[label].append(time.perf_counter() - begin)
                shutil.rmtree(target)
        project.close()
        assert exported == args.n, exported
        best = {label: min(times) for label, times in runs.items()}
        middle = {label: statistics.median(times) for label, times in runs.items()}
        names = {
            "plain": "plain copy (copytree)",
            "copy": "export kohya, copy mode",
            "link": "export kohya, hardlink",
        }
        for label, name in names.items():
            print(
                f"{name:<26} min {best[label]:7.2f} s   median {middle[label]:7.2f} s   ({args.repeat} runs)"
            )
        print(
            f"ratio copy-mode / plain copy: min {best['copy'] / best['plain']:.2f}, "
            f"median {middle['copy'] / middle['plain']:.2f}  (goal <= 1.5)"
        )
        print(f"hardlink mode seconds: min {best['link']:.2f}, median {middle['link']:.2f}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"images {args.n:,} ({total_bytes / 1e6:.0f} MB), files per export {files:,}, peak RSS {peak_mb:.0f} MB"
        )
        project = ProjectService(config).open("bench")
        service = ExportService(project, config)
        for fmt in args.formats.split(","):
            per_format(service, base, fmt, args.n, args.repeat)
        project.close()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS after all formats {peak_mb:.0f} MB")


ALL_FORMATS = (
    "kohya",
    "kohya-json",
    "jsonl",
    "hf",
    "onetrainer",
    "ai-toolkit",
    "simpletuner",
    "diffusion-pipe",
)
IMAGE_SUFFIXES = {".jpg", ".png", ".webp"}


def two_concepts(n: int) -> tuple[object, ...]:
    from lorairo.export.concepts import Concept

    half = n // 2
    return (
        Concept(
            name="subject", query=f"id:1..{half}", repeats=10, class_tokens="ohwx person", trigger=("ohwx",)
        ),
        Concept(name="people", query=f"id:{half + 1}..{n}", repeats=1, class_tokens="person", is_reg=True),
    )


def snapshot(export: Path) -> tuple[list[str], list[str], dict[str, bytes]]:
    folders = sorted(
        {path.parent.relative_to(export).as_posix() for path in export.rglob("*") if path.is_file()}
    )
    images: list[str] = []
    texts: dict[str, bytes] = {}
    for path in export.rglob("*"):
        if path.is_file():
            relative = path.relative_to(export).as_posix()
            if path.suffix in IMAGE_SUFFIXES:
                images.append(relative)
            else:
                texts[relative] = path.read_bytes()
    return folders, images, texts


def write_plain(
    source: Path, target: Path, folders: list[str], images: list[str], texts: dict[str, bytes]
) -> None:
    for folder in folders:
        (target / folder).mkdir(parents=True, exist_ok=True)
    for relative in images:
        shutil.copyfile(source / relative, target / relative)
    for relative, data in texts.items():
        (target / relative).write_bytes(data)


def per_format(service: object, base: Path, fmt: str, n: int, repeat: int) -> None:
    from lorairo.export.options import ExportOptions
    from lorairo.services.export_service import ExportService

    assert isinstance(service, ExportService)

    def options(target: Path) -> ExportOptions:
        return ExportOptions(
            target=target,
            formats=(fmt,),  # type: ignore[arg-type]
            concepts=two_concepts(n),  # type: ignore[arg-type]
            dataset_toml=fmt in {"kohya", "kohya-json", "jsonl"},
        )

    reference = base / f"reference-{fmt}"
    report = service.export(options(reference))
    assert report.exported == n, report.exported
    folders, images, texts = snapshot(reference)
    runs: dict[str, list[float]] = {"baseline": [], "export": []}
    labels = list(runs)
    for round_index in range(repeat):
        for label in labels[round_index % 2 :] + labels[: round_index % 2]:
            target = base / f"{fmt}-{label}-{round_index}"
            os.sync()
            begin = time.perf_counter()
            if label == "baseline":
                write_plain(reference, target, folders, images, texts)
            else:
                service.export(options(target))
            runs[label].append(time.perf_counter() - begin)
            shutil.rmtree(target)
    shutil.rmtree(reference)
    best = {label: min(times) for label, times in runs.items()}
    middle = {label: statistics.median(times) for label, times in runs.items()}
    print(
        f"{fmt:<15} export min {best['export']:6.2f} s  baseline min {best['baseline']:6.2f} s  "
        f"ratio min {best['export'] / best['baseline']:.2f}  median "
        f"{middle['export'] / middle['baseline']:.2f}  (goal <= 1.3; {len(images) + len(texts):,} files)"
    )


if __name__ == "__main__":
    main()
