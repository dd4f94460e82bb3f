"""The image hack/build-image.sh builds without Docker: its configuration is the Dockerfile's, and its
root filesystem, unpacked from the tarball, runs `seqmesh` as the image's user with its entrypoint,
command, environment and working directory (chroot in a private mount namespace, no container engine)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# A first build (debootstrap, the dependency layer) takes minutes on a loaded machine: pytest-timeout's
# default would SIGKILL the script mid-build. hack/test.sh builds it before pytest, so there it is cached.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


class Image:
    def __init__(self, tarball: Path, root: Path) -> None:
        self.tarball = tarball
        with tarfile.open(tarball) as tar:
            (self.manifest,) = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            self.config: dict[str, Any] = json.load(tar.extractfile(self.manifest["Config"]))  # type: ignore[arg-type]
            root.mkdir()
            for layer in self.manifest["Layers"]:  # in order, as a runtime stacks them
                tar.extract(layer, root.parent / "layers", filter="fully_trusted")
                subprocess.run(["tar", "--numeric-owner", "-xf", str(root.parent / "layers" / layer), "-C", str(root)],
                               check=True)
        self.root = root

    def run(self, *args: str, entrypoint: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        """Runs as a container would: the image's user, environment and working directory, `args` in
        place of its command (none: the command), after its entrypoint (or `entrypoint`). /dev and /proc
        are mounted in a mount namespace of its own, gone with it."""
        c = self.config["config"]
        argv = [*(entrypoint or c["Entrypoint"]), *(args or c["Cmd"])]
        root = str(self.root)
        script = (f'mount --rbind /dev "{root}/dev" && mount -t proc proc "{root}/proc" && '
                  f'exec chroot --userspec={c["User"]} "{root}" /usr/bin/env -i {shlex.join(c["Env"])} '
                  f'sh -c \'cd "$0" && exec "$@"\' {c["WorkingDir"]} "$@"')
        return subprocess.run(["unshare", "--mount", "--pid", "--fork", "sh", "-c", script, "sh", *argv],
                              capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    built = subprocess.run(["bash", str(REPO / "hack" / "build-image.sh")], capture_output=True, text=True,
                           timeout=1800, cwd=REPO)
    assert built.returncode == 0, built.stderr[-3000:]
    tarball = REPO / built.stdout.strip().splitlines()[-1]  # the interface: the last line is the tarball
    return Image(tarball, tmp_path_factory.mktemp("image") / "rootfs")


def dockerfile() -> dict[str, str]:
    """The runtime stage's instructions (the last of each)."""
    stages = (REPO / "Dockerfile").read_text().split("\nFROM ")
    found = {"FROM": stages[-1].splitlines()[0]}
    for line in stages[-1].splitlines()[1:]:
        word, _, rest = line.partition(" ")
        found[word] = rest.strip()
    return found


def test_config_is_the_dockerfiles(image: Image) -> None:
    docker = dockerfile()
    config = image.config["config"]
    assert config["User"] == docker["USER"] == "10001:10001"
    assert config["WorkingDir"] == docker["WORKDIR"] == "/var/lib/seqmesh"
    assert config["Entrypoint"] == json.loads(docker["ENTRYPOINT"]) == ["seqmesh"]
    assert config["Cmd"] == json.loads(docker["CMD"]) == ["--help"]
    assert (image.config["os"], image.config["architecture"]) == ("linux", "amd64")
    assert any(e.startswith("PATH=/opt/seqmesh/bin:") for e in config["Env"]), config["Env"]
    # Named as the operator's default image, the name .cache/images/seqmesh.ref gives.
    ref = (REPO / ".cache" / "images" / "seqmesh.ref").read_text().strip()
    assert image.manifest["RepoTags"] == [ref]
    from seqmesh.common.crds.models import RegionSpec

    assert RegionSpec.model_fields["image"].default == ref


def test_same_python_line_as_the_dockerfile(image: Image) -> None:
    (line,) = re.findall(r"python:(\d+\.\d+)", dockerfile()["FROM"])
    ran = image.run("--help")
    assert ran.returncode == 0, ran.stderr
    python = subprocess.run(["chroot", str(image.root), "/opt/seqmesh/bin/python", "--version"],
                            capture_output=True, text=True, check=True).stdout
    assert python.startswith(f"Python {line}."), python


def test_default_command_is_the_help(image: Image) -> None:
    ran = image.run()
    assert ran.returncode == 0 and ran.stdout.startswith("usage: seqmesh"), (ran.stdout, ran.stderr)
    assert "operator" in ran.stdout and "cc" in ran.stdout


def test_commands_run_as_the_images_user(image: Image) -> None:
    ran = image.run("certs", "--region", "na", "--leaf", "cc:main")  # into ./.cache/pki: the working directory
    assert ran.returncode == 0, ran.stderr
    pki = image.root / "var" / "lib" / "seqmesh" / ".cache" / "pki"
    assert sorted(p.name for p in pki.iterdir()) == ["na-ca.crt", "na-ca.key", "na-cc-main.crt", "na-cc-main.key"]
    assert {p.stat().st_uid for p in pki.iterdir()} == {10001}
    ran = image.run("operator", "crds", "--dir", "crds")
    assert ran.returncode == 0, ran.stderr
    source = image.root.parent / "source-crds"
    subprocess.run([sys.executable, "-m", "seqmesh", "operator", "crds", "--dir", str(source)], check=True,
                   capture_output=True, cwd="/")
    for crd in source.iterdir():
        assert (image.root / "var" / "lib" / "seqmesh" / "crds" / crd.name).read_text() == crd.read_text(), crd.name
    # Not root: nothing outside its working directory is writable.
    ran = image.run("certs", "--dir", "/opt/seqmesh/pki")
    assert ran.returncode != 0 and "Permission denied" in ran.stderr, (ran.stdout, ran.stderr)


def test_every_module_imports_in_the_image(image: Image, import_all: str) -> None:
    """Native dependencies (grpcio, wasmtime, uvloop, asyncpg, cryptography...) load on the image's libc."""
    ran = image.run("-c", import_all, entrypoint=["python"])
    assert ran.returncode == 0 and int(ran.stdout) > 50, ran.stderr
