"""Balances per account: free and locked amounts per asset, moved only in exact decimals."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

ZERO = Decimal(0)
#: Where charged fees go, so that every asset is conserved across all accounts.
FEE_ACCOUNT = "__fees__"


class InsufficientBalance(Exception):
    pass


class Accounts:
    def __init__(self) -> None:
        self._free: dict[str, defaultdict[str, Decimal]] = {}
        self._locked: dict[str, defaultdict[str, Decimal]] = {}
        self.open(FEE_ACCOUNT)

    def open(self, account: str, balances: dict[str, Decimal] | None = None) -> None:
        if account not in self._free:
            self._free[account] = defaultdict(Decimal)
            self._locked[account] = defaultdict(Decimal)
        for asset, amount in (balances or {}).items():
            self.deposit(account, asset, amount)

    def exists(self, account: str) -> bool:
        return account in self._free

    def deposit(self, account: str, asset: str, amount: Decimal) -> None:
        if amount < 0:
            raise ValueError("deposit must be non-negative")
        self._free[account][asset] += amount

    def free(self, account: str, asset: str) -> Decimal:
        return self._free[account][asset]

    def locked(self, account: str, asset: str) -> Decimal:
        return self._locked[account][asset]

    def lock(self, account: str, asset: str, amount: Decimal) -> None:
        if self._free[account][asset] < amount:
            raise InsufficientBalance(f"{account} has {self._free[account][asset]} {asset} free, needs {amount}")
        self._free[account][asset] -= amount
        self._locked[account][asset] += amount

    def unlock(self, account: str, asset: str, amount: Decimal) -> None:
        self._take_locked(account, asset, amount)
        self._free[account][asset] += amount

    def spend_locked(self, account: str, asset: str, amount: Decimal) -> None:
        """Amount leaves the account from its locked funds (paid to a counterparty)."""
        self._take_locked(account, asset, amount)

    def credit(self, account: str, asset: str, amount: Decimal) -> None:
        self._free[account][asset] += amount

    def _take_locked(self, account: str, asset: str, amount: Decimal) -> None:
        if self._locked[account][asset] < amount:
            raise AssertionError(f"{account} locked {asset} would go negative")
        self._locked[account][asset] -= amount

    def balances(self, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        assets = set(self._free[account]) | set(self._locked[account])
        return {a: (self._free[account][a], self._locked[account][a]) for a in sorted(assets)}

    def total(self, asset: str) -> Decimal:
        """Sum over every account, free plus locked: constant under trading (conservation)."""
        return sum(
            (self._free[a][asset] + self._locked[a][asset] for a in self._free), ZERO
        )

    def accounts(self) -> list[str]:
        return list(self._free)
