"""Annotation throughput: bare `session.run` versus `annotate run` end to end, on WD-shaped taggers.

Builds (under a temp dir) two convolutional ONNX taggers of the same size with WD I/O (NHWC
448x448 BGR input, ~10k sigmoid outputs, ~1.5 GFLOPs per image at width 1): one with a free batch
axis (WD v3) and one whose export fixes the batch at 1 (WD v1/v2), plus a project of registered
JPEGs, then measures for each:
  (a) bare `session.run` over pre-decoded, pre-resized batches of the same images (one image per
      call for the fixed-batch model: all it accepts);
  (b) `AnnotationService.run` (what `lorairo annotate run` calls) at the app's batch size:
      reading files, decoding, preprocessing, inference (chunked to the export's batch) and
      writing every tag to SQLite;
  images/s for batch sizes 1, 4, 8, 16 both ways on the free model, and the session build cost a
  per-call tagger pays.

    uv run python benchmarks/annotate_bench.py [--n 500] [--sweep-n 96] [--batch-size 8] [--width 1]
        [--device auto|cpu|cuda|directml]

`--width K` multiplies every conv's channels by K (about K^2 the FLOPs): the pipeline's cost per
image is fixed, so the ratio shows how heavy a model must be before reading files stops mattering.
`--device cuda` (with `uv sync --extra gpu --no-group cpu`) measures the GPU path; the provider
that actually ran is printed, and the ratio to bare `session.run` on preallocated inputs says
whether preprocessing keeps the device busy.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image as PILImage

SIZE = 448
TAGS = 10_000


def conv_channels(width: int) -> list[int]:
    return [3] + [c * width for c in (32, 64, 128, 256)]


def model_gflops(width: int) -> float:
    """Multiply-adds x 2 per image: four stride-2 3x3 convs from 448x448, then the dense layer."""
    channels, side, macs = conv_channels(width), SIZE, 0
    for cin, cout in itertools.pairwise(channels):
        side //= 2
        macs += side * side * cout * cin * 9
    return 2 * (macs + channels[-1] * TAGS) / 1e9


def build_model(folder: Path, seed: int = 0, width: int = 1, batch: int | str = "batch") -> Path:
    """Conv stack (3->32->64->128->256 times `width`, stride 2) + global pool + dense to 10k
    sigmoid outputs; `batch` is the input's batch axis (1 for a WD v2-style fixed export)."""
    rng = np.random.default_rng(seed)
    channels = conv_channels(width)
    nodes = [helper.make_node("Transpose", ["input"], ["x0"], perm=[0, 3, 1, 2])]
    inits = [numpy_helper.from_array(np.array(1 / 255, dtype=np.float32), "scale")]
    nodes.append(helper.make_node("Mul", ["x0", "scale"], ["x0s"]))
    previous = "x0s"
    for i, (cin, cout) in enumerate(itertools.pairwise(channels)):
        weight = rng.normal(0, np.sqrt(2 / (cin * 9)), (cout, cin, 3, 3)).astype(np.float32)
        inits += [
            numpy_helper.from_array(weight, f"w{i}"),
            numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}"),
        ]
        nodes += [
            helper.make_node(
                "Conv", [previous, f"w{i}", f"b{i}"], [f"c{i}"], strides=[2, 2], pads=[1, 1, 1, 1]
            ),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
        ]
        previous = f"r{i}"
    dense = rng.normal(0, 0.02, (channels[-1], TAGS)).astype(np.float32)
    bias = np.full(TAGS, -4.0, dtype=np.float32)
    bias[rng.choice(TAGS, 40, replace=False)] = 0.0  # ~40 plausible tags per image, like WD
    inits += [numpy_helper.from_array(dense, "dense"), numpy_helper.from_array(bias, "dense_bias")]
    nodes += [
        helper.make_node("GlobalAveragePool", [previous], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "dense", "dense_bias"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "bench_tagger",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, TAGS])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    with (folder / "selected_tags.csv").open("w", encoding="utf-8") as handle:
        handle.write("tag_id,name,category,count\n")
        for i in range(TAGS):
            category = 9 if i >= TAGS - 4 else (4 if i % 30 == 0 else 0)
            handle.write(f"{i},tag_{i},{category},{TAGS - i}\n")
    return folder


def make_images(project_root: Path, n: int) -> list[tuple[str, Path]]:
    """Structured JPEGs of a few aspect ratios (decoding and padding both cost something)."""
    out = []
    sizes = [(768, 512), (512, 768), (640, 640), (900, 600)]
    for i in range(n):
        rng = np.random.default_rng(i)
        width, height = sizes[i % len(sizes)]
        blocks = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        pixels = np.kron(blocks, np.ones((height // 12 + 1, width // 12 + 1, 1), np.uint8))[:height, :width]
        noise = rng.integers(0, 24, pixels.shape, dtype=np.uint8)
        path = project_root / "images" / f"img_{i:05d}.jpg"
        PILImage.fromarray(pixels + noise).save(path, quality=90)
        out.append((path.relative_to(project_root).as_posix(), path))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="images for the main comparison")
    parser.add_argument("--sweep-n", type=int, default=96, help="images per batch-size sweep point")
    parser.add_argument("--batch-size", type=int, default=8, help="batch size for the main comparison")
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternating (a)/(b) repeats; best and median shown"
    )
    parser.add_argument("--width", type=int, default=1, help="channel multiplier (~width^2 the FLOPs)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or directml")
    parser.add_argument("--skip-sweep", action="store_true", help="only the main comparisons")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="annotate-bench-"))
    os.environ["LORAIRO_CONFIG_PATH"] = str(tmp / "config" / "lorairo.toml")
    os.environ["LORAIRO_DATABASE_DIR"] = str(tmp / "projects")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("LORAIRO_LOG_LEVEL", "WARNING")

    from loguru import logger

    from image_annotator_lib.local.preprocessing import WD_PREPROCESS
    from image_annotator_lib.local.session_cache import build_session, default_session_cache, session_provider
    from lorairo.database.schema import Image
    from lorairo.services.annotation_service import AnnotationService
    from lorairo.services.configuration_service import ConfigurationService
    from lorairo.services.project_service import ProjectService

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    model_dir = build_model(tmp / "model", width=args.width)
    fixed_dir = build_model(tmp / "model-fixed", width=args.width, batch=1)
    config = ConfigurationService()
    config.annotator_config_path.write_text(
        "".join(
            f'[{name}]\nclass = "WDTagger"\nmodel_path = "{folder.as_posix()}"\ndevice = "{args.device}"\n'
            for name, folder in (("bench-tagger", model_dir), ("bench-tagger-fixed1", fixed_dir))
        ),
        encoding="utf-8",
    )
    project = ProjectService(config).create("bench")
    n = max(args.n, args.sweep_n)
    print(f"building {n} images and the model under {tmp} ...", file=sys.stderr)
    files = make_images(project.root, n)
    with project.database.write_session() as session:
        for i, (relative, path) in enumerate(files):
            data = path.read_bytes()
            session.add(
                Image(
                    file_path=str(path),
                    stored_path=relative,
                    name=path.name,
                    file_size=len(data),
                    width=1,
                    height=1,
                    format="JPEG",
                    mode="RGB",
                    has_alpha=False,
                    sha256=hashlib.sha256(data).hexdigest(),
                    phash=i,
                )
            )
    with project.database.read_session() as session:
        from sqlalchemy import select

        ids = list(session.scalars(select(Image.id).order_by(Image.id)))

    sessions = {
        "bench-tagger": default_session_cache.get(model_dir / "model.onnx", args.device),
        "bench-tagger-fixed1": default_session_cache.get(fixed_dir / "model.onnx", args.device),
    }
    input_name = sessions["bench-tagger"].get_inputs()[0].name
    print("pre-decoding and resizing for the bare baseline ...", file=sys.stderr)
    resized = []
    for _, path in files:
        with PILImage.open(path) as image:
            resized.append(WD_PREPROCESS.image_array(image, SIZE))
    for session_ort in sessions.values():  # warm-up
        session_ort.run(None, {input_name: np.stack(resized[:1]).astype(np.float32)})

    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def bare(count: int, batch: int, model: str = "bench-tagger") -> tuple[float, float]:
        """Wall and CPU seconds inside session.run only; batches are built outside the timers."""
        session_ort = sessions[model]
        fixed = session_ort.get_inputs()[0].shape[0]
        batch = fixed if isinstance(fixed, int) else batch
        wall = cpu = 0.0
        for start in range(0, count, batch):
            tensor = np.stack(resized[start : start + batch]).astype(np.float32)
            began, began_cpu = time.perf_counter(), cpu_seconds()
            session_ort.run(None, {input_name: tensor})
            wall += time.perf_counter() - began
            cpu += cpu_seconds() - began_cpu
        return wall, cpu

    service = AnnotationService(project, config)

    def end_to_end(count: int, batch: int, model: str = "bench-tagger") -> tuple[float, float]:
        began, began_cpu = time.perf_counter(), cpu_seconds()
        report = service.run([model], ids[:count], batch_size=batch)
        wall, cpu = time.perf_counter() - began, cpu_seconds() - began_cpu
        assert report.images_annotated == count, report.to_dict()
        return wall, cpu

    def alternate(
        count: int, batch: int, model: str = "bench-tagger"
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """(a) and (b) interleaved, so load from other processes hits both alike."""
        runs_a, runs_b = [], []
        for _ in range(args.repeats):
            runs_a.append(bare(count, batch, model))
            runs_b.append(end_to_end(count, batch, model))
        return runs_a, runs_b

    print(
        f"\n{args.n} images, batch size {args.batch_size}, {args.repeats} alternating repeats, "
        f"cpu cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, "
        f"model {model_gflops(args.width):.1f} GFLOPs/image, device {args.device} -> "
        f"{session_provider(sessions['bench-tagger'])}"
    )
    print("                                          best wall   images/s   median wall   best CPU s")
    wall_a = 0.0
    for model, label in (("bench-tagger", "free batch"), ("bench-tagger-fixed1", "batch fixed at 1")):
        runs_a, runs_b = alternate(args.n, args.batch_size, model)
        best_a, best_b = min(r[0] for r in runs_a), min(r[0] for r in runs_b)
        med_a, med_b = statistics.median(r[0] for r in runs_a), statistics.median(r[0] for r in runs_b)
        cpu_a, cpu_b = min(r[1] for r in runs_a), min(r[1] for r in runs_b)
        wall_a = wall_a or best_a
        print(
            f"{label:17s} (a) bare session.run: {best_a:8.2f}s  {args.n / best_a:9.1f}  {med_a:11.2f}s  {cpu_a:10.2f}"
        )
        print(
            f"{label:17s} (b) end to end:       {best_b:8.2f}s  {args.n / best_b:9.1f}  {med_b:11.2f}s  {cpu_b:10.2f}"
        )
        print(
            f"{label:17s} ratio (b)/(a): best wall {best_b / best_a:.2f}, median wall {med_b / med_a:.2f}, "
            f"CPU {cpu_b / cpu_a:.2f}   (goal <= 1.2 at >= 5 GFLOPs)"
        )

    if not args.skip_sweep:
        print(f"\nbatch-size sweep, free-batch model ({args.sweep_n} images, best of {args.repeats})")
        print("batch  bare images/s  end-to-end images/s  ratio")
        for batch in (1, 4, 8, 16):
            runs_a, runs_b = alternate(args.sweep_n, batch)
            b = min(r[0] for r in runs_a)
            e = min(r[0] for r in runs_b)
            print(f"{batch:5d}  {args.sweep_n / b:13.1f}  {args.sweep_n / e:19.1f}  {e / b:5.2f}")

    builds = []
    for _ in range(3):
        began = time.perf_counter()
        build_session(model_dir / "model.onnx", args.device)
        builds.append(time.perf_counter() - began)
    build = sum(builds) / len(builds)
    per_image = wall_a / args.n
    print(
        f"\nsession build: {build * 1000:.0f} ms (mean of 3) vs inference {per_image * 1000:.1f} ms/image; "
        f"rebuilding per image would cost {build * args.n:.1f} s extra on {args.n} images "
        f"({(build + per_image) / per_image:.1f}x slower)"
    )
    with project.database.read_session() as session:
        from sqlalchemy import func

        from lorairo.database.schema import Tag

        tags = session.scalar(select(func.count()).select_from(Tag))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"tags stored: {tags:,}; peak RSS {peak:.0f} MiB (includes the {n} pre-resized baseline images)")
    project.close()


if __name__ == "__main__":
    main()
