"""`seqmesh algo init` scaffolds a project for either SDK and `seqmesh algo build` builds it with the
project's toolchain into a module the host accepts, speaking the ABI of the SDK it was made for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from seqmesh.runtime.wasm.compiler import Runtime
from seqmesh.runtime.wasm.host import Instance

from seqmesh.testing import algos

CACHE = algos.ROOT / ".cache"


def seqmesh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "seqmesh", *args], capture_output=True, text=True, timeout=900,
                          check=False)


@pytest.mark.parametrize(("sdk", "abi", "target"), [("public", "public", "algos-public-target"),
                                                    ("seqmesh", "seqmesh", "algos-target")])
def test_init_then_build_gives_a_module_of_its_sdks_abi(tmp_path: Path, sdk: str, abi: str, target: str) -> None:
    algos.build()  # the toolchain, and wasm32's core/alloc/std in the shared target directories, once
    made = seqmesh("algo", "init", "my-algo", "--sdk", sdk, "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "my-algo" / "src" / "lib.rs").is_file()
    again = seqmesh("algo", "init", "my-algo", "--sdk", sdk, "--dir", str(tmp_path))
    assert again.returncode == 2 and "exists already" in again.stderr
    built = seqmesh("algo", "build", str(tmp_path / "my-algo"), "--target-dir", str(CACHE / target))
    assert built.returncode == 0, built.stdout + built.stderr
    wasm = tmp_path / "my-algo" / "my-algo.wasm"
    assert str(wasm) in built.stdout
    instance = Instance(Runtime(None).compile(wasm.read_bytes()), "my-algo")
    assert instance.abi_kind == abi and instance.stopped is None


def test_bad_names_and_projects_are_refused(tmp_path: Path) -> None:
    bad = seqmesh("algo", "init", "9lives", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "starting with a letter" in bad.stderr
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Cargo.toml").write_text('[package]\nname = "other"\n[dependencies]\nserde = "1"\n')
    refused = seqmesh("algo", "build", str(tmp_path / "other"))
    assert refused.returncode == 1 and "neither sequence-algo-sdk nor seqmesh-algo" in refused.stderr
    missing = seqmesh("algo", "build", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "no Cargo.toml" in missing.stderr
