"""The Helm chart: lint-clean for every region's values, and accepted by the real API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqmesh.devcluster.controlplane import ControlPlane

pytestmark = pytest.mark.k8s
CHART = Path(__file__).resolve().parents[2] / "charts" / "seqmesh"
VALUES = ["", "values-na.yaml", "values-eu.yaml", "values-ap.yaml"]


@pytest.mark.parametrize("values", VALUES)
def test_lint_strict(k8s_cluster: ControlPlane, values: str) -> None:
    args = ["lint", "--strict", str(CHART)] + (["-f", str(CHART / values)] if values else [])
    out = k8s_cluster.helm(*args)
    assert "0 chart(s) failed" in out.stdout


@pytest.mark.parametrize("values", VALUES)
def test_template_is_accepted_by_the_api_server(k8s_cluster: ControlPlane, values: str) -> None:
    k8s_cluster.kubectl("apply", "--server-side", "-f", str(CHART.parents[1] / "crds"))
    k8s_cluster.wait_established("regions.seqmesh.io")
    args = ["template", "seqmesh", str(CHART), "--namespace", "default", "--kube-version", "v1.34.4"]
    args += ["-f", str(CHART / values)] if values else []
    rendered = k8s_cluster.helm(*args).stdout
    out = k8s_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=rendered)
    assert "deployment.apps/seqmesh-operator created (server dry run)" in out.stdout
    if values:
        assert "region.seqmesh.io/" in out.stdout and "edge.seqmesh.io/" in out.stdout


def test_schema_refuses_bad_values(k8s_cluster: ControlPlane, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("edges:\n  - {venue: nasdaq, symbols: [BTC/USDT]}\n")
    out = k8s_cluster.helm("template", "x", str(CHART), "--kube-version", "v1.34.4", "-f", str(bad), check=False)
    assert out.returncode != 0 and "venue" in out.stderr
