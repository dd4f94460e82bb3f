"""Venue and region names shared by the runtime, the operator and the CRDs."""

from __future__ import annotations

import re

#: Centralised venues are ccxt exchange ids.
CEX_VENUES: tuple[str, ...] = (
    "binance", "kraken", "coinbase", "okx", "bybit", "bitget", "cryptocom", "bitmart", "hyperliquid",
)
DEX_CHAINS: tuple[str, ...] = ("ethereum", "arbitrum", "base", "optimism", "polygon")
#: Every venue id a seqmesh resource may name.
VENUE_IDS: tuple[str, ...] = CEX_VENUES + tuple(f"dex-{c}" for c in DEX_CHAINS) + ("solana",)

DEFAULT_REGIONS: tuple[str, ...] = ("na", "eu", "ap")
#: The seed's regional deployment table.
REGION_VENUES: dict[str, tuple[str, ...]] = {
    "na": ("coinbase", *(f"dex-{c}" for c in DEX_CHAINS), "solana"),
    "eu": ("kraken", "bitmart"),
    "ap": ("binance", "okx", "bybit", "bitget", "cryptocom", "hyperliquid"),
}

#: Region names are DNS labels so they can appear in Kubernetes names and certificate SANs.
REGION_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$")


def check_venue(venue: str) -> str:
    if venue not in VENUE_IDS:
        raise ValueError(f"unknown venue {venue!r}; known venues: {', '.join(VENUE_IDS)}")
    return venue


def check_region(region: str) -> str:
    if not REGION_NAME.match(region):
        raise ValueError(f"region {region!r} must be a DNS label (lowercase letters, digits, '-')")
    return region


def venue_kind(venue: str) -> str:
    """"cex" (an order book through ccxt), "dex" (AMM pools on an EVM chain) or "rfq" (Solana)."""
    if venue.startswith("dex-"):
        return "dex"
    return "rfq" if venue == "solana" else "cex"


def dex_chain(venue: str) -> str:
    """The chain a `dex-<chain>` venue trades on."""
    if not venue.startswith("dex-") or venue[4:] not in DEX_CHAINS:
        raise ValueError(f"{venue!r} is not a DEX venue (dex-{'|'.join(DEX_CHAINS)})")
    return venue[4:]
