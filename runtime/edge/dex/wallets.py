"""The wallets a DEX edge signs with: its own key, and each client's whose credential it holds.

Each wallet has its signer (wallet_signer.py) and its own nonces; a client's wallet also needs
the routers approved for the tokens it trades, which is done once, from the wallet itself, before
its first swap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_typing import ChecksumAddress

from .nonces import NonceManager
from .wallet_signer import WalletSigner


@dataclass
class Wallet:
    account: str  # the client's credential id; "" for the edge's own key
    signer: WalletSigner = field(repr=False)
    nonces: NonceManager = field(repr=False)
    #: (router, token) pairs known to be approved
    approved: set[tuple[str, str]] = field(default_factory=set)

    @property
    def address(self) -> ChecksumAddress:
        return self.signer.address
