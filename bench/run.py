"""Runs the benchmarks and prints one JSON document.

    .venv/bin/python bench/run.py              # every bench/bench_*.py
    .venv/bin/python bench/run.py book sor     # just these

Each module exposes `run() -> dict`; figures are measured beside a baseline in the same run
(ratios, since machines are noisy), never asserted against wall-clock thresholds in tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load(name: str) -> Any:
    path = HERE / f"bench_{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no benchmark {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    results: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                           "platform": platform.platform()}}
    for name in names:
        t0 = time.perf_counter()
        try:
            results[name] = load(name).run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[name]["bench_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"# {name} done", file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
