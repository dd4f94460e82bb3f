"""Region: its CA, the CC's certificate, configuration, Deployment and Services."""

from __future__ import annotations

from .common import level_based, sync_region

level_based("regions", "Region", sync_region)
