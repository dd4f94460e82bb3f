"""The settlement transaction of the Solana RFQ venue, as both sides build it.

The venue builds it to sign its leg; the edge builds it again from its own order and the
quoted price and refuses to sign anything else (the venue's transaction must be this exact
message), so a venue can never get a taker's signature on a transfer it did not agree to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from solders.hash import Hash
from solders.instruction import Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address, transfer_checked
from spl.token.models import TransferCheckedParams


def units(amount: Decimal, decimals: int) -> int:
    """`amount` in the token's smallest units; refuses an amount finer than the token can hold."""
    scaled = amount.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {decimals} decimals")
    return int(scaled)


@dataclass(frozen=True)
class Leg:
    """One token moving from one owner's associated token account to another's."""

    mint: Pubkey
    decimals: int
    amount: int


def settlement_message(taker: Pubkey, venue: Pubkey, pay: Leg, get: Leg, blockhash: Hash) -> Message:
    """The taker pays `pay` to the venue and the venue delivers `get` to the taker, in one
    transaction whose fee payer is the taker. `transfer_checked` names the mint and its decimals,
    so the token program also refuses a leg in the wrong token or at the wrong scale."""

    def transfer(owner: Pubkey, to: Pubkey, leg: Leg) -> Instruction:
        return transfer_checked(TransferCheckedParams(
            program_id=TOKEN_PROGRAM_ID, source=get_associated_token_address(owner, leg.mint), mint=leg.mint,
            dest=get_associated_token_address(to, leg.mint), owner=owner, amount=leg.amount, decimals=leg.decimals))

    return Message.new_with_blockhash([transfer(taker, venue, pay), transfer(venue, taker, get)], taker, blockhash)
