"""Follows every journaled swap to its end, block by block: mined at the confirmation depth
(filled, or reverted with the router's reason), re-sent, replaced, or re-checked after a reorg.

On each new head, for each swap not final: if one of its transactions has a receipt in a block
that is still on the chain, it waits for the depth and then records the outcome from the
receipt. Otherwise the swap is pending again (never mined, or its block was replaced): the
node is asked for its latest transaction; unknown (dropped, never sent before a crash, or lost
in a reorg) while the nonce is still free, the same signed bytes go out again; still not mined
`resend_after` blocks after it was sent, again; after twice that, it is replaced by the same
transaction with a higher fee (same nonce, so only one can ever be mined). A nonce used while
none of the swap's transactions was mined means another transaction took it: the swap failed.
Each swap is followed with the wallet that signed it (the edge's own or a client's, by the
account the journal names): its address's nonce, its signer for a replacement.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from hexbytes import HexBytes
from seqmesh.runtime.dex.kinds import V3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import BlockData, TxParams, TxReceipt

from . import v3_state
from .chain_client import ChainClient
from .gas_watcher import GasWatcher
from .markets import DexMarket, Pool
from .tx_journal import UNFINISHED, Attempt, Swap, TxJournal
from .v3_state import V3_SWAP_TOPIC
from .wallet_signer import WalletSigner
from .wallets import Wallet

log = logging.getLogger(__name__)
#: heads a used nonce with none of the swap's transactions mined is looked at before it counts
NONCE_GONE_HEADS = 2


class TxTracker:
    def __init__(self, client: ChainClient, wallet_of: Callable[[str], Wallet], journal: TxJournal,
                 market: DexMarket, gas: GasWatcher, confirmations: int, resend_after: int) -> None:
        self.client = client
        #: the wallet of a venue account (its nonce manager's lock: a swap being signed and sent
        #: is not sent again meanwhile); LookupError for an account the edge no longer holds
        self.wallet_of = wallet_of
        self.journal = journal
        self.market = market
        self.gas = gas
        self.confirmations = confirmations
        self.resend_after = resend_after
        #: called with each swap once its outcome is recorded
        self.on_final: list[Callable[[Swap], None]] = []
        self.resends = self.replacements = self.reorged = 0
        self._nonce_gone: dict[str, int] = {}
        self._mined_at: dict[str, HexBytes] = {}  # swap -> block hash it was last seen mined in

    async def on_head(self, block: BlockData, reorged: bool) -> None:
        head = int(block["number"])
        for swap in self.journal.swaps(UNFINISHED):
            await self.check(swap, head)

    async def check(self, swap: Swap, head: int) -> None:
        attempts = self.journal.attempts(swap.client_order_id)
        for attempt in attempts:
            receipt = await self.client.receipt(attempt.tx_hash)
            if receipt is None:
                continue
            number = int(receipt["blockNumber"])
            if (await self.client.block(number))["hash"] != receipt["blockHash"]:
                continue  # a receipt from a block the chain no longer has
            if self._mined_at.get(swap.client_order_id) != receipt["blockHash"]:
                self._mined_at[swap.client_order_id] = receipt["blockHash"]
                log.info("swap %s mined in block %d as %s (depth %d of %d)", swap.client_order_id, number,
                         attempt.tx_hash.to_0x_hex(), head - number + 1, self.confirmations)
            if head - number + 1 >= self.confirmations:
                await self._finish(swap, attempt, receipt)
            return
        if self._mined_at.pop(swap.client_order_id, None) is not None:
            self.reorged += 1
            log.warning("swap %s: its block left the chain (reorg); pending again", swap.client_order_id)
        try:
            wallet = self.wallet_of(swap.account)
        except LookupError as exc:
            log.warning("swap %s: its account is not open (%s); not followed", swap.client_order_id, exc)
            return
        if await self.client.nonce(wallet.address) > swap.nonce:
            seen = self._nonce_gone[swap.client_order_id] = self._nonce_gone.get(swap.client_order_id, 0) + 1
            if seen >= NONCE_GONE_HEADS:
                swap.state, swap.reason = "failed", f"nonce {swap.nonce} was used by another transaction"
                self._record(swap)
            return
        self._nonce_gone.pop(swap.client_order_id, None)
        last = attempts[-1]
        waited = head - last.sent_block
        async with wallet.nonces.lock:  # after the submit that journaled it has sent it
            if waited >= 2 * self.resend_after:
                await self.replace(swap, last, head, wallet.signer)
            elif waited >= self.resend_after or await self.client.transaction(last.tx_hash) is None:
                await self._resend(swap, last, head, wallet.signer)

    async def _resend(self, swap: Swap, attempt: Attempt, head: int, signer: WalletSigner) -> None:
        """The same signed bytes again (the node dropped them, or never had them)."""
        try:
            await self.client.send_raw(attempt.raw)
        except Web3RPCError as exc:
            if "already known" in str(exc).lower():
                return
            log.warning("swap %s: resending %s refused (%s); replacing it", swap.client_order_id,
                        attempt.tx_hash.to_0x_hex(), exc)
            await self.replace(swap, attempt, head, signer)
            return
        self.resends += 1
        log.info("swap %s: sent %s again (nonce %d)", swap.client_order_id, attempt.tx_hash.to_0x_hex(), swap.nonce)

    async def replace(self, swap: Swap, last: Attempt, head: int, signer: WalletSigner) -> None:
        """The swap's transaction again with a higher fee and the same nonce (journaled first)."""
        max_fee, tip = self.gas.fees()
        # a node takes a replacement only for at least 10% more on both fees
        tip = max(tip, last.priority_fee * 9 // 8 + 1)
        max_fee = max(max_fee, last.max_fee * 9 // 8 + 1, tip)
        attempt = sign(signer, swap.tx_json, max_fee, tip, head)
        self.journal.replaced(swap.client_order_id, attempt)
        self.replacements += 1
        log.warning("swap %s: replacing %s by %s (nonce %d, max fee %d)", swap.client_order_id,
                    last.tx_hash.to_0x_hex(), attempt.tx_hash.to_0x_hex(), swap.nonce, max_fee)
        try:
            await self.client.send_raw(attempt.raw)
        except Web3RPCError as exc:  # the next head tries again
            log.warning("swap %s: replacement refused: %s", swap.client_order_id, exc)

    async def _finish(self, swap: Swap, attempt: Attempt, receipt: TxReceipt) -> None:
        block = await self.client.block(int(receipt["blockNumber"]))
        swap.mined_hash, swap.block_number = attempt.tx_hash, int(receipt["blockNumber"])
        swap.block_ts = int(block["timestamp"])
        swap.gas_used, swap.gas_price = int(receipt["gasUsed"]), int(receipt["effectiveGasPrice"])
        if receipt["status"] == 1:
            pool = self.market.pool(swap.symbol)
            topic = V3_SWAP_TOPIC if pool.kind == V3 else SWAP_TOPIC
            moved = [entry for entry in receipt["logs"] if entry["address"] == pool.address and
                     entry["topics"] and entry["topics"][0] == topic]
            if len(moved) != 1:
                swap.state, swap.reason = "failed", f"mined without one Swap event of {pool.address} ({len(moved)})"
            else:
                swap.base_raw, swap.quote_raw = _traded(pool, bytes(moved[0]["data"]), swap.side == "sell")
                swap.state = "confirmed"
                self.gas.observed(swap.gas_used)
        else:
            swap.state, swap.reason = "reverted", await self._revert_reason(swap, receipt)
        self._record(swap)

    def _record(self, swap: Swap) -> None:
        self.journal.finish(swap)
        self._mined_at.pop(swap.client_order_id, None)
        self._nonce_gone.pop(swap.client_order_id, None)
        log.info("swap %s %s %s", swap.client_order_id, swap.state, swap.reason)
        for callback in self.on_final:
            callback(swap)

    async def _revert_reason(self, swap: Swap, receipt: TxReceipt) -> str:
        """The router's words: the call replayed on the state of the block it reverted in."""
        tx = json.loads(swap.tx_json)
        call: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["data"], "gas": tx["gas"]}
        try:
            await self.client.call(self.client.w3.eth.call(call, block_identifier=int(receipt["blockNumber"])))
        except ContractLogicError as exc:
            return f"reverted: {exc.message or exc}"
        return "reverted (the same call succeeds on the block's final state)"


SWAP_TOPIC = HexBytes(ChainClient.topic("Swap(address,uint256,uint256,uint256,uint256,address)"))


def _traded(pool: Pool, data: bytes, sell: bool) -> tuple[int, int]:
    """(base, quote) raw amounts the pool's Swap event moved: a V3 pool's signed deltas, or a V2
    pair's (in0, in1, out0, out1) of which a sell paid base in and took quote out."""
    if pool.kind == V3:
        return v3_state.swapped(pool, data)
    in0, in1, out0, out1 = (int.from_bytes(data[i:i + 32]) for i in range(0, 128, 32))
    base_in, quote_in = (in0, in1) if pool.base_is_token0 else (in1, in0)
    base_out, quote_out = (out0, out1) if pool.base_is_token0 else (out1, out0)
    return (base_in, quote_out) if sell else (base_out, quote_in)


def sign(signer: WalletSigner, tx_json: str, max_fee: int, tip: int, head: int) -> Attempt:
    """The transaction in `tx_json` with these EIP-1559 fees, signed (SigningRefused if its wallet's
    rules do not allow it)."""
    tx = json.loads(tx_json)
    tx.update(maxFeePerGas=max_fee, maxPriorityFeePerGas=tip)
    signed = signer.sign(tx)
    return Attempt(HexBytes(signed.hash), bytes(signed.raw_transaction), max_fee, tip, head)
