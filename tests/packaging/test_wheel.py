"""The package as users install it: a wheel built from the repository's own files (none of the
generated protobuf modules copied in), installed into a fresh virtualenv without dev extras.
Every command's help, every module's import and a small region trading through the installed
`seqmesh` must work there."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from seqmesh.runtime.launcher.ready import CC_READY, EDGE_READY, SIM_READY

from seqmesh.testing.processes import Proc

# Installing every dependency into a new venv takes minutes on a loaded machine (pytest-timeout's default is 300 s).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

#: Packages only the dev extra or the build may bring; none may reach a runtime install.
DEV_ONLY = {"pytest", "pytest-asyncio", "pytest-timeout", "hypothesis", "ruff", "mypy", "import-linter",
            "grpcio-tools", "mypy-protobuf", "types-protobuf", "types-pyyaml", "grpc-stubs"}
REPO = Path(__file__).resolve().parents[2]

#: Prints, as JSON, every command path of the `seqmesh` parser (nested subcommands included) and,
#: with `--help` as argv[1], each one's help: one process, not one per command (each would cost a second).
COMMAND_TREE = """
import argparse, contextlib, io, json, sys
from seqmesh.cli import build_parser

def walk(parser, path):
    paths = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += walk(sub, [*path, name])
    return paths

paths = walk(build_parser(), [])
helps = {}
if sys.argv[1:] == ["--help"]:
    for path in paths:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            build_parser().parse_args([*path, "--help"])
        helps[" ".join(path)] = out.getvalue()
print(json.dumps({"paths": paths, "helps": helps}))
"""


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path  # the virtualenv's bin/


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from a copy of the working tree without its ignored files (so the generated *_pb2
    modules, which are never committed, must come from the build), installed in a new venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    listed = run("git", "-C", REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (tmp / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tmp / "src" / name)
    assert not list((tmp / "src" / "runtime" / "proto").glob("*_pb2*"))
    # The build requirements come from PyPI (pip's cache after the first run), in pip's isolated build env.
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
        "-w", tmp / "dist", tmp / "src")
    (wheel,) = (tmp / "dist").glob("seqmesh-*.whl")
    venv = tmp / "venv"
    # A copy (hard links) of a venv holding what pip installed for a wheel with these same requirements
    # (~50 s, then cached), and the wheel on top: `pip check` then proves the requirements met.
    shutil.copytree(dependencies_venv(wheel), venv, copy_function=os.link, symlinks=True)
    pip(venv, "install", "-q", "--no-compile", "--no-deps", wheel)
    pip(venv, "check")
    return Installed(wheel, venv / "bin")


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return sorted(line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:"))


def dependencies_venv(wheel: Path) -> Path:
    """A venv with everything `pip install <wheel>` brings but the wheel itself, cached under the
    wheel's requirements (extras' markers included, so the dev extra never comes in) and Python."""
    key = hashlib.sha256(json.dumps([sys.version, requirements(wheel)]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seqmesh" / f"wheel-deps-{key}"
    if not cache.is_dir():
        cache.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{cache.name}-", dir=cache.parent))
        run(sys.executable, "-m", "venv", building)
        pip(building, "install", "-q", wheel)  # compiled: each copy imports from the cached bytecode
        pip(building, "uninstall", "-y", "-q", "seqmesh")
        try:
            building.rename(cache)  # whole or not at all; another worker may have won the race
        except OSError:
            shutil.rmtree(building)
    return cache


def pip(venv: Path, *args: str | Path) -> str:
    # As a module: the copied venv's bin/pip still names the cached venv's interpreter.
    return run(venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", *args)


def run(*args: str | Path) -> str:
    # Not in the repository: `python -c` would import its folders (and `operator/` shadows the stdlib's).
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600,
                          cwd=tempfile.gettempdir())
    assert done.returncode == 0, f"{args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_holds_the_generated_protobuf_modules(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for proto in (REPO / "runtime" / "proto").glob("*.proto"):
        for suffix in ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi"):
            assert f"seqmesh/runtime/proto/{proto.stem}{suffix}" in names, (proto.name, suffix)
    assert "seqmesh/py.typed" in names and "seqmesh/operator/py.typed" in names


def test_no_dev_only_package_installed(installed: Installed) -> None:
    listed = json.loads(pip(installed.bin.parent, "list", "--format=json"))
    names = {p["name"].lower().replace("_", "-") for p in listed}
    assert "seqmesh" in names and "httpx" in names, names
    assert not names & DEV_ONLY, names & DEV_ONLY


def test_every_module_imports(installed: Installed, import_all: str) -> None:
    assert int(run(installed.bin / "python", "-c", import_all)) > 50


def test_every_command_help(installed: Installed) -> None:
    got = json.loads(run(installed.bin / "python", "-c", COMMAND_TREE, "--help"))
    tree = got["paths"]
    # The installed package offers exactly the commands of the source tree (none skipped as absent).
    assert tree == json.loads(run(sys.executable, "-c", COMMAND_TREE))["paths"]
    assert ["operator", "run"] in tree and ["algo", "deploy"] in tree and len(tree) >= 25, tree
    for path in tree:
        usage = " ".join(["usage: seqmesh", *path])
        assert got["helps"][" ".join(path)].startswith(usage), (path, got["helps"][" ".join(path)][:200])
    # And through the installed entry point, as a user types it.
    assert run(installed.bin / "seqmesh", "--help").startswith("usage: seqmesh")
    assert run(installed.bin / "seqmesh", "operator", "run", "--help").startswith("usage: seqmesh operator run")


def test_certs_and_crds(installed: Installed, tmp_path: Path) -> None:
    from cryptography import x509

    out = run(installed.bin / "seqmesh", "certs", "--dir", tmp_path / "pki", "--region", "na", "--leaf", "cc:main")
    assert "na-cc-main:" in out, out
    ca = x509.load_pem_x509_certificate((tmp_path / "pki" / "na-ca.crt").read_bytes())
    leaf = x509.load_pem_x509_certificate((tmp_path / "pki" / "na-cc-main.crt").read_bytes())
    leaf.verify_directly_issued_by(ca)
    # The installed operator writes the same CRDs as the source tree.
    run(installed.bin / "seqmesh", "operator", "crds", "--dir", tmp_path / "installed")
    run(sys.executable, "-m", "seqmesh", "operator", "crds", "--dir", tmp_path / "source")
    written = sorted(p.name for p in (tmp_path / "installed").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "source").iterdir()) and len(written) == 4, written
    for name in written:
        assert (tmp_path / "installed" / name).read_text() == (tmp_path / "source" / name).read_text(), name


def test_installed_region_trades(installed: Installed, tmp_path: Path) -> None:
    """A simulator, an edge and a CC from the installed command: gRPC over mTLS through the generated
    modules, ccxt to the venue, and the client (httpx) buying through the CC."""
    seqmesh = str(installed.bin / "seqmesh")
    started: list[Proc] = []
    try:
        started.append(Proc([seqmesh, "sim", "--venue", "binance", "--seed", "3"], SIM_READY, timeout=120))
        sim_url = f"http://127.0.0.1:{started[-1].match.group(2)}"  # type: ignore[union-attr]
        started.append(Proc([seqmesh, "edge", "--venue", "binance", "--sim-url", sim_url,
                             "--dev-pki", str(tmp_path / "pki"), "--state-dir", str(tmp_path / "state")],
                            EDGE_READY, timeout=120))
        edge = f"127.0.0.1:{started[-1].match.group(2)}"  # type: ignore[union-attr]
        started.append(Proc([seqmesh, "cc", "--listen", "127.0.0.1:0", "--dev-pki", str(tmp_path / "pki"),
                             "--db", str(tmp_path / "cc.sqlite"), "--edge", f"binance={edge}"], CC_READY, timeout=120))
        api = started[-1].match.group(2)  # type: ignore[union-attr]
        out = run(seqmesh, "buy", "BTC/USDT", "0.01", "--api", api, "--key", "seqmesh-dev-key", "--wait", "20")
        assert re.search(r"buy 0\.01 BTC/USDT market\s+state=filled filled=0\.01", out), out
    finally:
        for proc in reversed(started):
            assert proc.stop() == 0, "\n".join(proc.lines)
