"""The venue's starting state, made by real transactions on the bank: SOL airdrops, one SPL mint
per token, associated token accounts for the venue and each taker, and their token balances."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction, VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint2,
    mint_to_checked,
)
from spl.token.models import InitializeMint2Params, MintToCheckedParams

from seqmesh.common.solana_rfq import units

from .bank import Bank
from .keys import seeded
from .markets import TOKEN_DECIMALS

MINT_LEN = 82
LAMPORTS_PER_SOL = 1_000_000_000

#: what the venue (the maker's inventory) and every taker start with
VENUE_FUNDS: dict[str, Decimal] = {"SOL": Decimal(100), "BTC": Decimal(100), "ETH": Decimal(2000),
                                   "USDT": Decimal(20_000_000)}
TAKER_FUNDS: dict[str, Decimal] = {"SOL": Decimal(10), "BTC": Decimal(10), "ETH": Decimal(100),
                                   "USDT": Decimal(1_000_000)}


@dataclass(frozen=True)
class Genesis:
    venue: Keypair  # signs the venue's side of every settlement (owner of its token accounts)
    mints: dict[str, Pubkey]  # token -> mint address
    takers: tuple[Pubkey, ...]

    def token_account(self, owner: Pubkey, token: str) -> Pubkey:
        return get_associated_token_address(owner, self.mints[token])


def _run(bank: Bank, instructions: list[Instruction], payer: Keypair, *signers: Keypair) -> None:
    tx = Transaction.new_signed_with_payer(instructions, payer.pubkey(), [payer, *signers],
                                           bank.svm.latest_blockhash())
    bank.send(VersionedTransaction.from_legacy(tx))
    err = bank.landed[tx.signatures[0]].execution.err
    if err is not None:
        raise RuntimeError(f"genesis transaction failed: {err}")


def _fund(bank: Bank, authority: Keypair, owner: Pubkey, mints: dict[str, Pubkey], funds: dict[str, Decimal]) -> None:
    bank.svm.airdrop(owner, units(funds["SOL"], 9))
    ixs: list[Instruction] = []
    for token, mint in mints.items():
        account = get_associated_token_address(owner, mint)
        ixs.append(create_idempotent_associated_token_account(authority.pubkey(), owner, mint))
        ixs.append(mint_to_checked(MintToCheckedParams(
            program_id=TOKEN_PROGRAM_ID, mint=mint, dest=account, mint_authority=authority.pubkey(),
            amount=units(funds[token], TOKEN_DECIMALS[token]), decimals=TOKEN_DECIMALS[token])))
    _run(bank, ixs, authority)


def create(bank: Bank, seed: int, takers: list[Pubkey]) -> Genesis:
    authority = seeded(seed, "mint-authority")
    venue = seeded(seed, "venue")
    bank.svm.airdrop(authority.pubkey(), 10 * LAMPORTS_PER_SOL)
    mints: dict[str, Pubkey] = {}
    rent = bank.svm.minimum_balance_for_rent_exemption(MINT_LEN)
    for token, decimals in TOKEN_DECIMALS.items():
        mint = seeded(seed, f"mint-{token}")
        _run(bank, [
            create_account(CreateAccountParams(from_pubkey=authority.pubkey(), to_pubkey=mint.pubkey(),
                                               lamports=rent, space=MINT_LEN, owner=TOKEN_PROGRAM_ID)),
            initialize_mint2(InitializeMint2Params(decimals=decimals, program_id=TOKEN_PROGRAM_ID,
                                                   mint=mint.pubkey(), mint_authority=authority.pubkey(),
                                                   freeze_authority=None)),
        ], authority, mint)
        mints[token] = mint.pubkey()
    _fund(bank, authority, venue.pubkey(), mints, VENUE_FUNDS)
    for taker in takers:
        _fund(bank, authority, taker, mints, TAKER_FUNDS)
    return Genesis(venue, mints, tuple(takers))
