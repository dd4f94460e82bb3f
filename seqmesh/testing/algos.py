"""The example algos built to WebAssembly: `examples/algos` (seqmesh's Rust SDK in `sdk/rust`) and
`examples/algos-public` (the public `sequence-algo-sdk` from crates.io).

`build()` runs `hack/build-algos.sh` once per process — cheap when nothing changed, it installs
Debian's current Rust first when it is missing — and returns where each module is:
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
PUBLIC_NAMES = ("quoter", "nbbo-taker", "messenger", "pool-swapper", "layout-probe")


def build() -> dict[str, Path]:
    """Name (`market-maker`, `arb-mesh`, `misbehaving`) → path of its `.wasm`; builds on first use."""
    return {name: path for name, path in _build().items() if name in NAMES}


def build_public() -> dict[str, Path]:
    """The public SDK's examples: `quoter`, `nbbo-taker`, `messenger`, `pool-swapper`, and the test
    guest `layout-probe` → path of its `.wasm`; builds on first use."""
    return {name: path for name, path in _build().items() if name in PUBLIC_NAMES}


@functools.cache
def _build() -> dict[str, Path]:
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    paths = {name: OUT / f"{name}.wasm" for name in NAMES + PUBLIC_NAMES}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise RuntimeError(f"{SCRIPT.name} succeeded but did not produce {', '.join(missing)}")
    return paths
