"""Vision-LLM throughput against a server with a fixed number of parallel slots.

The fake server (127.0.0.1) answers each request after `--latency` seconds and runs at most
`--slots` requests at once, reporting them on llama.cpp's `/props` as a real server does. The
ideal throughput is slots / latency images/s; a sequential loop (max_concurrency=1) is measured in
the same run as the baseline. Ours is the default for a local server (max_concurrency unset: the
server's parallel slots), fed batch by batch as `annotate run` feeds it, once through the provider
alone and once end to end through `AnnotationService` (files, decoding, SQLite). Images vary in size
and format. RSS is sampled after every batch: flat memory means the last quarter's median is no
higher than the first quarter's plus a little noise.

    uv run python benchmarks/llm_concurrency.py [--n 200] [--latency 0.2] [--slots 4] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.providers.fake_llm_server import running
from tests.providers.helpers import colour, make_provider

SIZES = [(512, 512), (768, 512), (512, 896), (1024, 1024), (300, 200), (1536, 640)]
FORMATS = ["PNG", "JPEG", "WEBP"]


def varied_image(i: int) -> Image.Image:
    """Flat colour (the fake server's answer depends on it) with a varied size and mode."""
    image = Image.new("RGB", SIZES[i % len(SIZES)], colour(i))
    return image.convert("RGBA") if i % 7 == 0 else image


def batches(n: int, size: int) -> Iterator[list[Image.Image]]:
    for start in range(0, n, size):
        yield [varied_image(i) for i in range(start, min(n, start + size))]


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def flat(samples: list[float]) -> str:
    quarter = max(1, len(samples) // 4)
    first, last = statistics.median(samples[:quarter]), statistics.median(samples[-quarter:])
    verdict = "flat" if last <= first + 20 else "GROWING"
    return f"RSS first quarter {first:.0f} MB, last quarter {last:.0f} MB ({verdict})"


class ServerProcess:
    """The fake server in its own process, as a real server is: its JSON and image decoding must
    not compete with the client for this process's GIL."""

    def __init__(self, slots: int, latency: float) -> None:
        self._urls: multiprocessing.Queue[str] = multiprocessing.Queue()
        self._stop = multiprocessing.Event()
        self._process = multiprocessing.Process(target=self._serve, args=(slots, latency), daemon=True)

    def _serve(self, slots: int, latency: float) -> None:
        with running(slots=slots, latency=latency) as server:
            self._urls.put(server.url)
            self._stop.wait()
            self._urls.put(str(server.max_in_flight))

    def __enter__(self) -> ServerProcess:
        self._process.start()
        self.url = self._urls.get(timeout=30)
        self.openai_base_url = self.url + "/v1"
        return self

    def stop(self) -> int:
        """Stop the server; return the most requests it ever had in flight."""
        self._stop.set()
        in_flight = int(self._urls.get(timeout=30))
        self._process.join(timeout=10)
        return in_flight

    def __exit__(self, *exc: object) -> None:
        if self._process.is_alive():
            self._process.terminate()


def provider_run(
    server: ServerProcess, n: int, batch_size: int, concurrency: int | None
) -> tuple[float, int, list[float]]:
    provider = make_provider("openai-compatible", server, max_concurrency=concurrency)  # type: ignore[arg-type]
    provider.annotate_batch([varied_image(0)])  # warm up: SDK import, connection, /props
    ok, samples = 0, []
    started = time.perf_counter()
    for batch in batches(n, batch_size):
        ok += sum(result.ok for result in provider.annotate_batch(batch))
        samples.append(rss_mb())
    elapsed = time.perf_counter() - started
    provider.unload()
    return elapsed, ok, samples


def service_run(server: ServerProcess, n: int, batch_size: int) -> tuple[float, int, list[float]]:
    """`annotate run` end to end: a project of `n` files in varied formats, results in SQLite."""
    from lorairo.services.annotation_service import AnnotationService
    from lorairo.services.configuration_service import ConfigurationService
    from lorairo.services.project_service import ProjectService
    from tests.factories import add_image_row

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LORAIRO_CONFIG_PATH"] = str(Path(tmp) / "lorairo.toml")
        os.environ["LORAIRO_DATABASE_DIR"] = str(Path(tmp) / "projects")
        (Path(tmp) / "lorairo.toml").write_text(
            f'[ai_providers.bench]\nkind = "openai-compatible"\nbase_url = "{server.openai_base_url}"\n'
            'models = ["qwen-test"]\nrate_limit_requests_per_minute = 600000\n',
            encoding="utf-8",
        )
        config = ConfigurationService()
        project = ProjectService(config).create("bench")
        for i in range(n):
            fmt = FORMATS[i % len(FORMATS)]
            path = project.images_dir / f"img{i:04d}.{fmt.lower()}"
            image = varied_image(i)
            (image.convert("RGB") if fmt == "JPEG" else image).save(path, fmt)
            add_image_row(project.database, path)
        samples: list[float] = []
        progress: Callable[[int, int, str], None] = lambda done, total, name: samples.append(rss_mb())  # noqa: E731
        try:
            started = time.perf_counter()
            report = AnnotationService(project, config).run(["bench/qwen-test"], "all", batch_size, progress)
            elapsed = time.perf_counter() - started
        finally:
            project.close()
    return elapsed, report.images_annotated, samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--baseline-n", type=int, default=20, help="images for the sequential baseline")
    args = parser.parse_args()
    ideal = args.slots / args.latency
    with ServerProcess(args.slots, args.latency) as server:
        base, base_ok, _ = provider_run(server, args.baseline_n, args.batch_size, 1)
        ours, ours_ok, provider_rss = provider_run(server, args.n, args.batch_size, None)
        queued, queued_ok, _ = provider_run(server, args.n, args.batch_size, args.slots + 1)
        e2e, e2e_ok, service_rss = service_run(server, args.n, args.batch_size)
        in_flight = server.stop()
    load = os.getloadavg()
    print(
        f"images={args.n} latency={args.latency:.3f}s server slots={args.slots} batch size={args.batch_size}"
    )
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"ideal (slots / latency):       {ideal:.1f} images/s")
    print(
        f"baseline (sequential, {args.baseline_n:>3}):    {args.baseline_n / base:.1f} images/s  ok={base_ok}"
    )
    print(
        f"provider (auto concurrency):   {args.n / ours:.1f} images/s  ok={ours_ok}  "
        f"{args.n / ours / ideal:.0%} of ideal, {base / args.baseline_n * args.n / ours:.2f}x baseline; "
        f"server max in flight {in_flight}"
    )
    print(f"                               {flat(provider_rss)}")
    per_request = base / args.baseline_n
    print(
        f"one request costs {per_request * 1000:.0f} ms sequentially on this machine now "
        f"({(per_request - args.latency) * 1000:.0f} ms of it client + transport), so {args.slots} slots "
        f"can give at most {args.slots / per_request:.1f} images/s: provider reaches "
        f"{args.n / ours / (args.slots / per_request):.0%} of that"
    )
    print(
        f"max_concurrency = slots + 1:   {args.n / queued:.1f} images/s  ok={queued_ok}  "
        f"{args.n / queued / ideal:.0%} of ideal (one request always queued at the server)"
    )
    print(
        f"annotate run end to end:       {args.n / e2e:.1f} images/s  ok={e2e_ok}  {args.n / e2e / ideal:.0%} of ideal"
    )
    print(f"                               {flat(service_rss)}")


if __name__ == "__main__":
    main()
