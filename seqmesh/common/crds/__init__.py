"""The seqmesh.io/v1alpha1 custom resources as pydantic models (the CRDs are generated from these)."""

from .models import (
    GROUP,
    KINDS,
    VERSION,
    AlgoSpec,
    AlgoStatus,
    Condition,
    EdgeSpec,
    EdgeStatus,
    PeerLinkSpec,
    PeerLinkStatus,
    RegionSpec,
    RegionStatus,
)

__all__ = ["GROUP", "KINDS", "VERSION", "AlgoSpec", "AlgoStatus", "Condition", "EdgeSpec", "EdgeStatus",
           "PeerLinkSpec", "PeerLinkStatus", "RegionSpec", "RegionStatus"]
