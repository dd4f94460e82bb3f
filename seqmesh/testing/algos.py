"""The example algos (`examples/algos`, on the Rust SDK in `sdk/rust`) built to WebAssembly.

`build()` runs `hack/build-algos.sh` once per process — cheap when nothing changed, it installs
Debian's Rust first when it is missing — and returns where each module is:
`.cache/algos/<name>.wasm`, named after its Cargo package.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hack" / "build-algos.sh"
OUT = ROOT / ".cache" / "algos"
NAMES = ("market-maker", "arb-mesh", "misbehaving")


def build() -> dict[str, Path]:
    """Name (`market-maker`, `arb-mesh`, `misbehaving`) → path of its `.wasm`; builds on first use."""
    return dict(_build())


@functools.cache
def _build() -> dict[str, Path]:
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    paths = {name: OUT / f"{name}.wasm" for name in NAMES}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise RuntimeError(f"{SCRIPT.name} succeeded but did not produce {', '.join(missing)}")
    return paths
