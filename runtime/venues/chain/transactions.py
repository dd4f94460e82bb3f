"""Signs with a local key, sends raw transactions, waits for receipts: the one way this package
writes to a chain.

Nonces are counted here (the node's pending count at first use), so a batch can be sent
without waiting for each to be mined and then awaited together: on a chain with 12-second
blocks a deployment takes a few blocks, not one block per transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.types import Nonce, TxParams, TxReceipt, Wei


class TransactionFailed(RuntimeError):
    """A transaction was mined and reverted, or was not mined in time."""


Call = ContractFunction | ContractConstructor
GAS_HEADROOM_PCT = 200


class Signer:
    """One account's transactions on one chain."""

    def __init__(self, w3: Web3, account: LocalAccount, receipt_timeout: float = 60.0) -> None:
        self.w3 = w3
        self.account = account
        self.address = account.address
        self.receipt_timeout = receipt_timeout
        self._nonce: int | None = None
        self._chain_id = w3.eth.chain_id

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        nonce = self._nonce
        self._nonce += 1
        return nonce

    def send(self, call: Call, *, value: int = 0, gas: int | None = None) -> HexBytes:
        """Signs and broadcasts `call`; returns the transaction hash without waiting for it."""
        params: TxParams = {"from": self.address, "value": Wei(value), "chainId": self._chain_id}
        if gas is None:
            # Headroom over the estimate: a V2 pair writes its cumulative prices (~45k gas a hop)
            # only when the block's timestamp has moved on since its last swap, so a swap estimated
            # in the latest block's second and mined in the next costs more than estimated. A hop
            # costs ~100k otherwise, so twice the estimate always covers it; unused gas is refunded.
            gas = call.estimate_gas(params) * GAS_HEADROOM_PCT // 100
        params["gas"] = gas
        tx = call.build_transaction(params)
        tx["nonce"] = Nonce(self._next_nonce())
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        try:
            return self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception:
            self._nonce = None  # re-read from the node: the nonce was not used
            raise

    def wait(self, tx_hash: HexBytes, what: str = "transaction") -> TxReceipt:
        """The receipt of `tx_hash`; raises if it reverted or is not mined within the timeout."""
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout,
                                                               poll_latency=0.05)
        except Exception as e:  # web3's TimeExhausted
            raise TransactionFailed(f"{what} {tx_hash.to_0x_hex()} not mined within {self.receipt_timeout}s") from e
        if receipt["status"] != 1:
            raise TransactionFailed(f"{what} {tx_hash.to_0x_hex()} reverted (block {receipt['blockNumber']})")
        return receipt

    def transact(self, call: Call, *, value: int = 0, what: str = "transaction") -> TxReceipt:
        """Sends `call` and waits for it to be mined successfully."""
        return self.wait(self.send(call, value=value), what)


def wait_all(pending: Sequence[tuple[Signer, HexBytes, str]]) -> list[TxReceipt]:
    """Receipts for a batch sent without waiting, in order; raises on the first that failed."""
    return [signer.wait(tx_hash, what) for signer, tx_hash, what in pending]
