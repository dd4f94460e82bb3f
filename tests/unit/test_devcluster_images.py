"""The names an image tarball carries, as the node's image loader reads them."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from seqmesh.devcluster.images import image_names


def tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_docker_archive_names_its_repo_tags(tmp_path: Path) -> None:
    manifest = [{"Config": "sha256:x", "RepoTags": ["registry.k8s.io/pause:3.10.1"], "Layers": []}]
    assert image_names(tarball(tmp_path / "a.tar", {"manifest.json": json.dumps(manifest).encode()})) == [
        "registry.k8s.io/pause:3.10.1"]


def test_oci_layout_names_its_ref_annotations(tmp_path: Path) -> None:
    index = {"manifests": [
        {"annotations": {"io.containerd.image.name": "ghcr.io/seqmesh/seqmesh:0.1.0"}},
        {"annotations": {"org.opencontainers.image.ref.name": "other:1"}},
        {"annotations": {}},
    ]}
    assert image_names(tarball(tmp_path / "o.tar", {"./index.json": json.dumps(index).encode()})) == [
        "ghcr.io/seqmesh/seqmesh:0.1.0", "other:1"]


def test_not_an_image_is_refused_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither a docker archive"):
        image_names(tarball(tmp_path / "x.tar", {"README": b"hello"}))
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 64)
    with pytest.raises(ValueError, match="not an image tarball"):
        image_names(tmp_path / "junk.tar")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_names(tmp_path / "missing.tar")
