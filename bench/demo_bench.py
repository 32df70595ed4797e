"""How fast the demo generator writes, against the floor of writing the same tables' Parquet alone.

    .venv/bin/python bench/demo_bench.py --interactions 1000000 [--formats generic|vendor]

Each measurement runs in a fresh process so its peak resident memory is its own. The floor reads the files
the generator wrote and times only ``write_parquet`` of both tables, in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
END = date(2026, 3, 31)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _generate(out: Path, interactions: int, seed: int, formats: str) -> dict[str, float]:
    from servicelens.demo import generate_demo

    started = time.perf_counter()
    summary = generate_demo(out, interactions, seed, END, formats=formats)  # type: ignore[arg-type]
    return {"seconds": time.perf_counter() - started, "events": summary.events, "peak_mb": _peak_rss_mb()}


def _floor(out: Path) -> dict[str, float]:
    import polars as pl

    frames = [pl.read_parquet(out / name) for name in ("interactions.parquet", "events.parquet")]
    before = _peak_rss_mb()
    started = time.perf_counter()
    for number, frame in enumerate(frames):
        frame.write_parquet(out / f"floor-{number}.parquet", compression="zstd", statistics=True)
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_rss_mb(), "read_peak_mb": before}


def _child(args: list[str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--formats", choices=("generic", "vendor"), default="generic")
    parser.add_argument("--child", choices=("generate", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generate":
        print(json.dumps(_generate(args.out, args.interactions, args.seed, args.formats)))
        return
    if args.child == "floor":
        print(json.dumps(_floor(args.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        common = ["--interactions", str(args.interactions), "--seed", str(args.seed), "--out", str(out)]
        generated = _child(["--child", "generate", "--formats", args.formats, *common])
        if args.formats != "generic":  # the floor needs the generic tables
            _child(["--child", "generate", "--formats", "generic", *common, "--out", str(out / "generic")])
            out = out / "generic"
        floor = _child(["--child", "floor", "--out", str(out)])
    print(f"demo {args.formats}: {args.interactions:,} interactions, {int(generated['events']):,} events")
    print(f"  generate_demo      {generated['seconds']:8.1f} s   peak RSS {generated['peak_mb']:7.0f} MB")
    print(
        f"  parquet write only {floor['seconds']:8.1f} s   (tables held in memory: {floor['read_peak_mb']:.0f} MB)"
    )
    print(f"  ratio to the floor {generated['seconds'] / floor['seconds']:8.1f} x")


if __name__ == "__main__":
    main()
