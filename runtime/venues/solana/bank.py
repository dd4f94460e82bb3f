"""The chain: LiteSVM runs the transactions (SVM, SPL Token program, signatures, fees, atomicity);
this bank adds what a validator keeps around them — slots on a clock, the queue of recent
blockhashes, and the status of every landed transaction by slot depth.

LiteSVM accepts only its latest blockhash. A validator accepts any of the last 150
(MAX_PROCESSING_AGE), so here the SVM's own check is off and the bank checks the age against
its queue before the SVM runs, refusing an older one with BlockhashNotFound as a validator does.
Blocks are never skipped, so a block's height is its slot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from solders.account import Account
from solders.account_decoder import UiTokenAmount
from solders.clock import Clock
from solders.hash import Hash
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.token.state import Mint, TokenAccount
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import (
    TransactionConfirmationStatus,
    TransactionErrorFieldless,
    TransactionErrorType,
    TransactionStatus,
    UiTransactionTokenBalance,
)
from spl.token.constants import TOKEN_PROGRAM_ID

Commitment = Literal["processed", "confirmed", "finalized"]
COMMITMENTS: tuple[Commitment, ...] = ("processed", "confirmed", "finalized")
#: SPL Token account size: what makes an account owned by the token program a token account
TOKEN_ACCOUNT_LEN = 165


@dataclass(frozen=True)
class ChainSettings:
    slot_ms: float = 400.0  # mainnet's target slot time
    max_age: int = 150  # blocks a blockhash stays usable (MAX_PROCESSING_AGE)
    confirmed_depth: int = 1  # blocks on top before a slot counts as confirmed (a supermajority's votes)
    finalized_depth: int = 32  # ... and as finalized (rooted)

    def __post_init__(self) -> None:
        if self.slot_ms <= 0:
            raise ValueError(f"slot time must be positive, got {self.slot_ms} ms")
        if not 0 <= self.confirmed_depth <= self.finalized_depth:
            raise ValueError(f"need 0 <= confirmed depth ({self.confirmed_depth}) <= finalized depth "
                             f"({self.finalized_depth})")
        if self.max_age < 1:
            raise ValueError(f"blockhash max age must be at least 1 block, got {self.max_age}")


class TxRefused(Exception):
    """A transaction that cannot land in a block (bad blockhash or signatures, already processed)."""

    def __init__(self, err: TransactionErrorType, logs: list[str] | None = None) -> None:
        super().__init__(str(err))
        self.err = err
        self.logs = logs or []


@dataclass
class Execution:
    """What running a transaction did (or would do, simulated)."""

    err: TransactionErrorType | None
    fee: int
    logs: list[str]
    units: int
    pre_balances: list[int] = field(default_factory=list)
    post_balances: list[int] = field(default_factory=list)
    pre_token: list[UiTransactionTokenBalance] = field(default_factory=list)
    post_token: list[UiTransactionTokenBalance] = field(default_factory=list)


@dataclass
class Landed:
    tx: VersionedTransaction
    slot: int
    block_time: int
    execution: Execution


Balances = tuple[list[int], list[UiTransactionTokenBalance]]


def _execution(meta: TransactionMetadata, err: TransactionErrorType | None, before: Balances,
               after: Balances) -> Execution:
    return Execution(err, meta.fee(), list(meta.logs()), meta.compute_units_consumed(),
                     before[0], after[0], before[1], after[1])


def ui_amount_string(amount: int, decimals: int) -> str:
    """A token amount as the RPC writes it: decimal, no exponent, no trailing zeros."""
    text = format(Decimal(amount).scaleb(-decimals).normalize(), "f")
    return text


class Bank:
    def __init__(self, settings: ChainSettings) -> None:
        self.settings = settings
        self.svm = LiteSVM().with_blockhash_check(False)  # the age is checked against `_hashes`
        self.slot = 0
        self._hashes: dict[Hash, int] = {}  # recent blockhash -> its slot, oldest first
        self._by_slot: dict[int, Hash] = {}
        self.landed: dict[Signature, Landed] = {}
        self._decimals: dict[Pubkey, int] = {}
        self._record_hash()

    # -- slots ------------------------------------------------------------------------------

    def tick(self) -> None:
        """One slot passes: a new block, a new blockhash, the clock moves."""
        self.slot += 1
        self.svm.warp_to_slot(self.slot)
        self.svm.expire_blockhash()
        c = self.svm.get_clock()
        self.svm.set_clock(Clock(self.slot, c.epoch_start_timestamp, c.epoch, c.leader_schedule_epoch,
                                 int(time.time())))
        self._record_hash()

    def _record_hash(self) -> None:
        h = self.svm.latest_blockhash()
        self._hashes[h] = self.slot
        self._by_slot[self.slot] = h
        keep = max(self.settings.max_age, self.settings.finalized_depth) + 1
        while len(self._by_slot) > keep:
            old = min(self._by_slot)
            self._hashes.pop(self._by_slot.pop(old), None)

    def depth(self, commitment: Commitment) -> int:
        s = self.settings
        return {"processed": 0, "confirmed": s.confirmed_depth, "finalized": s.finalized_depth}[commitment]

    def height(self, commitment: Commitment = "finalized") -> int:
        """The newest block at `commitment` (its slot: no slot is skipped here)."""
        return max(self.slot - self.depth(commitment), 0)

    def blockhash(self, commitment: Commitment = "finalized") -> tuple[Hash, int]:
        """The blockhash of the newest block at `commitment` and the last height it is usable at."""
        slot = max(self.height(commitment), min(self._by_slot))
        return self._by_slot[slot], slot + self.settings.max_age

    def blockhash_aged(self, blocks_left: int) -> tuple[Hash, int]:
        """A recent blockhash usable for about `blocks_left` more blocks (at most max_age): what a
        quote that must expire sooner than a fresh blockhash would is signed with."""
        slot = max(self.slot - (self.settings.max_age - min(blocks_left, self.settings.max_age)), min(self._by_slot))
        return self._by_slot[slot], slot + self.settings.max_age

    def last_valid_height(self, blockhash: Hash) -> int | None:
        slot = self._hashes.get(blockhash)
        return None if slot is None else slot + self.settings.max_age

    def _check_age(self, tx: VersionedTransaction) -> None:
        last = self.last_valid_height(tx.message.recent_blockhash)
        if last is None or self.slot > last:
            raise TxRefused(TransactionErrorFieldless.BlockhashNotFound)

    # -- transactions -----------------------------------------------------------------------

    def simulate(self, tx: VersionedTransaction) -> Execution:
        self._check_age(tx)
        keys = list(tx.message.account_keys)
        before = self._balances(keys)
        res = self.svm.simulate_transaction(tx)
        if isinstance(res, FailedTransactionMetadata):
            return _execution(res.meta(), res.err(), before, before)
        return _execution(res.meta(), None, before, self._balances(keys, dict(res.post_accounts())))

    def send(self, tx: VersionedTransaction) -> Signature:
        """Run `tx` in the current slot. It lands (recorded, fee charged) even if an instruction
        fails, as on chain; raises TxRefused when it cannot land at all."""
        signature = tx.signatures[0]
        if signature in self.landed:
            raise TxRefused(TransactionErrorFieldless.AlreadyProcessed)
        self._check_age(tx)
        keys = list(tx.message.account_keys)
        before = self._balances(keys)
        res = self.svm.send_transaction(tx)
        if isinstance(res, FailedTransactionMetadata):
            meta = res.meta()
            if self.svm.get_transaction(signature) is None:  # refused before execution: nothing charged
                raise TxRefused(res.err(), list(meta.logs()))
            err: TransactionErrorType | None = res.err()
        else:
            meta, err = res, None
        execution = _execution(meta, err, before, self._balances(keys))
        self.landed[signature] = Landed(tx, self.slot, self.svm.get_clock().unix_timestamp, execution)
        return signature

    def status(self, signature: Signature) -> TransactionStatus | None:
        landed = self.landed.get(signature)
        if landed is None:
            return None
        depth = self.slot - landed.slot
        s = self.settings
        if depth >= s.finalized_depth:
            level, confirmations = TransactionConfirmationStatus.Finalized, None
        else:
            confirmations = depth
            level = (TransactionConfirmationStatus.Confirmed if depth >= s.confirmed_depth
                     else TransactionConfirmationStatus.Processed)
        err = landed.execution.err
        return TransactionStatus(landed.slot, confirmations, err, err, level)

    def transaction(self, signature: Signature, commitment: Commitment) -> Landed | None:
        landed = self.landed.get(signature)
        if landed is None or self.slot - landed.slot < self.depth(commitment):
            return None
        return landed

    # -- accounts ---------------------------------------------------------------------------

    def account(self, pubkey: Pubkey) -> Account | None:
        return self.svm.get_account(pubkey)

    def lamports(self, pubkey: Pubkey) -> int:
        return self.svm.get_balance(pubkey) or 0

    def decimals(self, mint: Pubkey) -> int:
        if mint not in self._decimals:
            acct = self.svm.get_account(mint)
            if acct is None:
                raise ValueError(f"no mint {mint}")
            self._decimals[mint] = Mint.from_bytes(bytes(acct.data)).decimals
        return self._decimals[mint]

    def token_amount(self, pubkey: Pubkey) -> UiTokenAmount | None:
        acct = self.svm.get_account(pubkey)
        if acct is None or acct.owner != TOKEN_PROGRAM_ID or len(acct.data) != TOKEN_ACCOUNT_LEN:
            return None
        state = TokenAccount.from_bytes(bytes(acct.data))
        return self._ui_amount(state.amount, self.decimals(state.mint))

    @staticmethod
    def _ui_amount(amount: int, decimals: int) -> UiTokenAmount:
        text = ui_amount_string(amount, decimals)
        return UiTokenAmount(float(text), decimals, str(amount), text)

    def _token_balance(self, index: int, acct: Account) -> UiTransactionTokenBalance | None:
        if acct.owner != TOKEN_PROGRAM_ID or len(acct.data) != TOKEN_ACCOUNT_LEN:
            return None
        state = TokenAccount.from_bytes(bytes(acct.data))
        return UiTransactionTokenBalance(index, state.mint, self._ui_amount(state.amount, self.decimals(state.mint)),
                                         state.owner, TOKEN_PROGRAM_ID)

    def _balances(self, keys: list[Pubkey], changed: dict[Pubkey, Account] | None = None) -> Balances:
        """Lamports of every account of a transaction, and the token balances among them (as a
        validator records them before and after it runs); `changed` overrides the ledger's."""
        lamports, tokens = [], []
        for i, key in enumerate(keys):
            acct = (changed or {}).get(key) or self.svm.get_account(key)
            lamports.append(acct.lamports if acct is not None else 0)
            balance = self._token_balance(i, acct) if acct is not None else None
            if balance is not None:
                tokens.append(balance)
        return lamports, tokens
