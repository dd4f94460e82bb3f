"""The only thing at a DEX edge that signs: one wallet's key, and what it will sign with it.

An EOA key can always move everything its address holds; no venue can be asked to take that
permission away, as a CEX key's withdrawal permission is. So the edge limits itself: a wallet
signs only calls to the configured routers' swap functions whose recipient is the wallet itself,
and ERC-20 `approve` of a traded token for one of those routers, with no ether attached, on the
edge's chain. Anything else (a transfer, a swap paying another address, another contract) is
refused before it is signed: a bug or a compromised order path cannot send a client's funds
elsewhere through the edge. The key is kept in memory only and never printed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from eth_account import Account
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from seqmesh.runtime.dex.interfaces import abi
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3ValueError

#: the router functions a wallet may call, and where each names the recipient of what it buys
SWAP_RECIPIENT = {"swapExactTokensForTokens": ("to",), "swapTokensForExactTokens": ("to",),
                  "exactInputSingle": ("params", "recipient"), "exactOutputSingle": ("params", "recipient")}


class SigningRefused(ValueError):
    """A transaction the wallet's rules do not allow: never signed."""


class BadWalletKey(ValueError):
    """Not a usable EVM private key (the message says why, never the key)."""


@functools.cache
def _interface(name: str) -> type[Contract]:
    return Web3().eth.contract(abi=abi(name))


def key_account(wallet_key: str) -> LocalAccount:
    """The account of `wallet_key`: 32 bytes as 64 hex digits (0x optional), a valid secp256k1 key."""
    text = wallet_key.strip().removeprefix("0x").removeprefix("0X")
    if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise BadWalletKey(f"wallet_key must be an EVM private key: 32 bytes as 64 hex digits "
                           f"(0x optional), got {len(text)} characters{'' if _is_hex(text) else ' not all hex'}")
    try:
        account: LocalAccount = Account.from_key(bytes.fromhex(text))
    except (ValueError, Web3ValueError):
        raise BadWalletKey("wallet_key is not a valid secp256k1 private key (zero, or not below the curve order)") \
            from None
    return account


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


class WalletSigner:
    def __init__(self, account: LocalAccount, chain_id: int) -> None:
        self._account = account
        self.address: ChecksumAddress = account.address
        self.chain_id = chain_id
        self.routers: set[str] = set()
        self.tokens: set[str] = set()

    def __repr__(self) -> str:
        return f"WalletSigner({self.address})"

    def allow(self, routers: Iterable[str], tokens: Iterable[str]) -> None:
        """The market's routers and tokens (once they are known)."""
        self.routers = {Web3.to_checksum_address(r) for r in routers}
        self.tokens = {Web3.to_checksum_address(t) for t in tokens}

    def sign(self, tx: dict[str, Any]) -> SignedTransaction:
        """`tx` signed, if the rules allow it; SigningRefused naming what they do not allow."""
        self.check(tx)
        return self._account.sign_transaction(tx)

    def check(self, tx: dict[str, Any]) -> None:
        if int(tx.get("value") or 0) != 0:
            raise SigningRefused(f"{self.address} sends no ether with a call (value {tx.get('value')})")
        if int(tx.get("chainId") or 0) != self.chain_id:
            raise SigningRefused(f"{self.address} signs for chain {self.chain_id} only, not {tx.get('chainId')}")
        to = Web3.to_checksum_address(str(tx.get("to") or "0x" + "00" * 20))
        data = tx.get("data") or "0x"
        if to in self.routers:
            name, params = self._decoded(to, data, "UniswapV2Router02", "SwapRouter")
            path = SWAP_RECIPIENT.get(name)
            if path is None:
                raise SigningRefused(f"{self.address} calls only the routers' swaps, not {name}")
            recipient: Any = params
            for part in path:
                recipient = recipient[part]
            if Web3.to_checksum_address(recipient) != self.address:
                raise SigningRefused(f"a swap from {self.address} pays only {self.address}, not {recipient}")
        elif to in self.tokens:
            name, params = self._decoded(to, data, "Token")
            if name != "approve" or Web3.to_checksum_address(params["spender"]) not in self.routers:
                spender = params.get("spender", "")
                raise SigningRefused(f"{self.address} calls a token only to approve a router, not "
                                     f"{name}({spender})")
        else:
            raise SigningRefused(f"{self.address} signs calls to the market's routers and tokens only, not to {to}")

    def _decoded(self, to: str, data: Any, *interfaces: str) -> tuple[str, dict[str, Any]]:
        for name in interfaces:
            try:
                function, params = _interface(name).decode_function_input(data)
            except (Web3ValueError, ValueError):
                continue
            return str(function.fn_name), dict(params)
        raise SigningRefused(f"{self.address}: the call to {to} is none of the functions it may call")
