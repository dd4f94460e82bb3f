"""`seqmesh algo init NAME [--sdk public|seqmesh]` and `seqmesh algo build [DIR]`: an algo project
on the public `sequence-algo-sdk` (crates.io) or seqmesh's own SDK (`sdk/rust`), built to wasm32
with Debian's current Rust (the toolchain `hack/algo-toolchain.sh` installs; see docs/algos.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SEQMESH_SDK = ROOT / "sdk" / "rust"
PUBLIC_SDK = 'sequence-algo-sdk = { version = "0.4", default-features = false }'
TOOLCHAIN = ("rustc-web", "cargo-web", "rust-web-src", "lld-14")
#: build-std per SDK: the public one is no_std + alloc; seqmesh's uses std (panics abort).
BUILD_STD = {"public": "core,alloc", "seqmesh": "std,panic_abort"}

_PROFILE = """
[profile.release]
opt-level = "s"
lto = true
panic = "abort"
codegen-units = 1
strip = "debuginfo"
"""

_PUBLIC_LIB = """//! {name}: an algo on the public sequence-algo-sdk (docs/wasm-abi.md, "The public SDK's ABI").
#![no_std]
extern crate alloc;
use algo_sdk::*;

sequence_algo_entry!();

struct Strategy;

impl Algo for Strategy {{
    fn on_book(&mut self, book: &L2Book, _state: &AlgoState, _features: &OnlineFeatures, _actions: &mut Actions) {{
        if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) {{
            log_debug!("bid {{}} ask {{}}", bid.px_1e9, ask.px_1e9);
        }}
    }}

    fn on_shutdown(&mut self, state: &AlgoState, actions: &mut Actions) {{
        actions.cancel_all(state);
    }}
}}

export_algo!(Strategy);
"""

_SEQMESH_LIB = """//! {name}: an algo on seqmesh's Rust SDK (docs/wasm-abi.md, ABI v1).
use seqmesh_algo::{{export_algo, log, Actions, Algo, Book}};

struct Strategy;

impl Algo for Strategy {{
    fn on_book(&mut self, book: &Book, _out: &mut Actions) {{
        if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) {{
            log::debug(&format!("bid {{}} ask {{}}", bid.price_ticks, ask.price_ticks));
        }}
    }}
}}

export_algo!(Strategy, Strategy);
"""


def init(name: str, sdk: str, parent: Path) -> Path:
    """A new project `parent/name`: Cargo.toml (a cdylib) and src/lib.rs that builds as is."""
    if not name.replace("-", "").replace("_", "").isalnum() or not name[0].isalpha():
        raise ValueError(f"{name!r}: a project name is letters, digits, '-' and '_', starting with a letter")
    home = parent / name
    if home.exists():
        raise ValueError(f"{home} exists already")
    if sdk == "seqmesh":
        if not SEQMESH_SDK.is_dir():
            raise ValueError(f"seqmesh's Rust SDK is not here ({SEQMESH_SDK}): init from a seqmesh checkout")
        dependency = f'seqmesh-algo = {{ path = "{SEQMESH_SDK}" }}'
    else:
        dependency = PUBLIC_SDK
    (home / "src").mkdir(parents=True)
    (home / "Cargo.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n'
        f'[lib]\ncrate-type = ["cdylib"]\n\n[dependencies]\n{dependency}\n{_PROFILE}')
    (home / "src" / "lib.rs").write_text((_PUBLIC_LIB if sdk == "public" else _SEQMESH_LIB).format(name=name))
    return home


def sdk_of(manifest: dict[str, Any]) -> str:
    deps = manifest.get("dependencies", {})
    if "sequence-algo-sdk" in deps:
        return "public"
    if "seqmesh-algo" in deps:
        return "seqmesh"
    raise ValueError("the project depends on neither sequence-algo-sdk nor seqmesh-algo")


def ensure_toolchain() -> None:
    """Debian's current Rust for wasm32, installed with apt when missing."""
    cargo = subprocess.run(["/usr/bin/cargo", "--version"], capture_output=True, text=True, check=False) \
        if Path("/usr/bin/cargo").exists() else None
    version = cargo.stdout.split()[1] if cargo is not None and cargo.returncode == 0 else "0.0"
    major_minor = tuple(int(x) for x in version.split(".")[:2])
    if (major_minor >= (1, 85) and Path("/usr/bin/lld-14").exists()
            and Path("/usr/lib/rustlib/src/rust/library/alloc").is_dir()):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing Debian's current Rust for wasm32 ({' '.join(TOOLCHAIN)}) ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run([*sudo, "apt-get", "install", "-y", "-q", *TOOLCHAIN], env=env, check=False).returncode:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=True)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", *TOOLCHAIN], env=env, check=True)


def build(project: Path, target_dir: Path | None = None) -> Path:
    """Build the project's cdylib for wasm32; the path of its .wasm (copied next to Cargo.toml)."""
    manifest_path = project / "Cargo.toml"
    try:
        manifest = tomllib.loads(manifest_path.read_text())
    except OSError as exc:
        raise ValueError(f"no Cargo.toml in {project}: {exc.strerror}") from None
    sdk = sdk_of(manifest)
    name = manifest["package"]["name"]
    ensure_toolchain()
    target = target_dir or project / "target"
    env = {**os.environ, "RUSTC": "/usr/bin/rustc", "RUSTC_BOOTSTRAP": "1",
           "RUSTFLAGS": "-C linker=/usr/bin/lld-14 -C linker-flavor=wasm-ld -C link-arg=--allow-undefined"}
    cmd = ["/usr/bin/cargo", "build", "--release", "--target", "wasm32-unknown-unknown",
           "--manifest-path", str(manifest_path), "--target-dir", str(target), f"-Zbuild-std={BUILD_STD[sdk]}"]
    proc = subprocess.run(cmd, env=env, check=False)
    if proc.returncode:
        raise RuntimeError(f"cargo build failed ({proc.returncode})")
    built = target / "wasm32-unknown-unknown" / "release" / f"{name.replace('-', '_')}.wasm"
    out = project / f"{name}.wasm"
    shutil.copyfile(built, out)
    return out


def _init(args: Any) -> int:
    try:
        home = init(args.name, args.sdk, Path(args.dir))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"created {home} ({args.sdk} SDK): `seqmesh algo build {home}` builds it")
    return 0


def _build(args: Any) -> int:
    try:
        out = build(Path(args.dir), Path(args.target_dir) if args.target_dir else None)
    except (ValueError, RuntimeError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{out} ({out.stat().st_size} bytes): `seqmesh algo deploy {out} --edges ...` runs it")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("init", help="scaffold an algo project (Rust) on the public SDK or seqmesh's")
    p.add_argument("name")
    p.add_argument("--sdk", choices=("public", "seqmesh"), default="public",
                   help="public: sequence-algo-sdk 0.4 from crates.io; seqmesh: sdk/rust (ABI v1)")
    p.add_argument("--dir", default=".", help="where to create it")
    p.set_defaults(handler=_init, command_name="init")
    p = sub.add_parser("build", help="build an algo project to .wasm (installs the Rust toolchain if missing)")
    p.add_argument("dir", nargs="?", default=".")
    p.add_argument("--target-dir", help="cargo's target directory (default: DIR/target); share one to build "
                   "core/alloc/std for wasm32 once")
    p.set_defaults(handler=_build, command_name="build")
