"""Images into the node's containerd from tarballs (no registry here): `docker save`-style
archives (what `crane pull`/`crane mutate -o` write) and OCI layouts packed with tar."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path


def image_names(tarball: Path) -> list[str]:
    """The image names a tarball carries: RepoTags of a docker archive, or the ref-name
    annotations of an OCI layout's index.json."""
    if not tarball.is_file():
        raise FileNotFoundError(f"image tarball {tarball} does not exist")
    try:
        with tarfile.open(tarball) as tar:
            members = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
            if "manifest.json" in members:
                manifest = json.load(tar.extractfile(members["manifest.json"]))  # type: ignore[arg-type]
                return [tag for entry in manifest for tag in entry.get("RepoTags") or []]
            if "index.json" in members:
                index = json.load(tar.extractfile(members["index.json"]))  # type: ignore[arg-type]
                annotations = [m.get("annotations", {}) for m in index.get("manifests", [])]
                return [a.get("io.containerd.image.name") or a["org.opencontainers.image.ref.name"]
                        for a in annotations if a.get("io.containerd.image.name")
                        or a.get("org.opencontainers.image.ref.name")]
    except tarfile.TarError as e:
        raise ValueError(f"{tarball} is not an image tarball: {e}") from None
    raise ValueError(f"{tarball} is neither a docker archive (manifest.json) nor an OCI layout (index.json)")


def load_image(ctr: Path, address: Path, tarball: Path, ref: str | None = None, timeout: float = 600.0) -> str:
    """Import `tarball` into containerd's `k8s.io` namespace (where the kubelet looks) and tag it
    `ref` (default: the first name it carries). Pods use it with `imagePullPolicy: Never` or
    `IfNotPresent`. Returns the ref."""
    names = image_names(tarball)
    if ref is None:
        if not names:
            raise ValueError(f"{tarball} names no image: pass the ref to tag it with")
        ref = names[0]
    base = [str(ctr), "--address", str(address), "-n", "k8s.io"]
    run = subprocess.run([*base, "images", "import", "--platform", "linux/amd64", str(tarball)],
                         capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"ctr images import {tarball} failed: {run.stderr.strip()}")
    source = names[0] if names else _imported_name(run.stdout + run.stderr)
    if source != ref:
        tag = subprocess.run([*base, "images", "tag", "--force", source, ref], capture_output=True, text=True,
                             timeout=60)
        if tag.returncode != 0:
            raise RuntimeError(f"ctr images tag {source} {ref} failed: {tag.stderr.strip()}")
    return ref


def _imported_name(output: str) -> str:
    for line in output.splitlines():  # "unpacking NAME (sha256:...)...done"
        if line.startswith("unpacking "):
            return line.split()[1]
    raise RuntimeError(f"ctr images import named no image: {output.strip()}")
