"""Vision-LLM throughput: bounded concurrency vs one request at a time, against a local fake server.

The server answers each request after a fixed latency (as a real API does), so the baseline is a
plain sequential loop (max_concurrency=1) and ours is the default of 4 requests in flight.
Usage: uv run python benchmarks/llm_concurrency.py [--n 40] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.providers.fake_llm_server import FakeRequest, running
from tests.providers.helpers import flat_image, make_provider


def measure(n: int, latency: float, concurrency: int) -> tuple[float, int]:
    def slow(request: FakeRequest) -> str:
        time.sleep(latency)
        return "ok"

    images = [flat_image(i, (512, 512)) for i in range(n)]
    with running(slow) as server:  # type: ignore[arg-type]
        provider = make_provider("openai", server, max_concurrency=concurrency)
        started = time.perf_counter()
        results = provider.annotate_batch(images)
        elapsed = time.perf_counter() - started
        provider.unload()
    return elapsed, sum(r.ok for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    base, base_ok = measure(args.n, args.latency, 1)
    ours, ours_ok = measure(args.n, args.latency, 4)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
    print(f"images={args.n} server latency={args.latency:.3f}s")
    print(f"baseline (sequential): {base:.2f}s  {args.n / base:.1f} images/s  ok={base_ok}")
    print(f"ours (4 in flight):    {ours:.2f}s  {args.n / ours:.1f} images/s  ok={ours_ok}")
    print(f"speed-up: {base / ours:.2f}x   peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
