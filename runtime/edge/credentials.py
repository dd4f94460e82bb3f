"""Clients' own venue accounts at this edge: their sealed credentials, opened in memory only.

The CC sends a client's credential sealed (`seqmesh.common.sealing`): the edge keeps it as it
came, sealed, in `credentials.sqlite` under its state directory (so orders on that account are
reconciled after a restart before the CC is back), opens it with its wrapping private key when
an order first needs it, and builds that account's own ccxt client from it. Nothing opened is
written, logged or sent anywhere but to the venue, signed.

Wrapping keys live in a directory (a Kubernetes Secret mounted there, or the state directory's
`wrapping-keys/`, created with a first key when empty): every `*.pem` file is one X25519 key,
and the current one is the last by file name. Rotation: add a key file named after the others;
the edge announces it in its next `Info`, and the CC asks `RewrapCredentials` for the data
keys wrapped for the older key, which must stay in the directory until then.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from seqmesh.runtime.proto import edge_pb2 as pb
from seqmesh.runtime.store.sqlite import SqliteStore

from seqmesh.common.sealing import SealBroken, WrappingKey, credential_aad, data_key_aad, unseal, wrap

from .gateway import VenueGateway

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sealed_credentials (
    credential_id TEXT PRIMARY KEY, client TEXT NOT NULL, venue TEXT NOT NULL,
    wrap_key_id TEXT NOT NULL, wrapped_key BLOB NOT NULL, sealed BLOB NOT NULL
);
"""


class CredentialRefused(Exception):
    """A credential this edge will not use; `withdraw` when the venue says the key can withdraw."""

    def __init__(self, message: str, withdraw: bool = False) -> None:
        super().__init__(message)
        self.withdraw = withdraw


class UnknownAccount(LookupError):
    pass


@dataclass(frozen=True)
class Credential:
    """An opened credential: kept in memory only, never printed."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str = field(default="", repr=False)
    wallet_key: str = field(default="", repr=False)
    credential_id: str = ""

    @classmethod
    def from_plaintext(cls, raw: bytes, credential_id: str = "") -> Credential:
        try:
            body = orjson.loads(raw)
            return cls(str(body.get("key") or ""), str(body.get("secret") or ""), str(body.get("passphrase") or ""),
                       str(body.get("wallet_key") or ""), credential_id)
        except (orjson.JSONDecodeError, AttributeError):
            raise CredentialRefused("the opened credential is not a credential document") from None


class WrappingKeyring:
    """This edge's wrapping keys, read from `directory` (the current one: last by file name)."""

    def __init__(self, directory: Path, create: bool) -> None:
        self.directory = directory
        if create and not any(directory.glob("*.pem")):
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / "0001.pem"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(WrappingKey.generate().to_pem())
        self.keys: dict[str, WrappingKey] = {}
        self.current: WrappingKey
        self.refresh()

    def refresh(self) -> None:
        """Read the directory again (a rotated Secret, a key file added). A directory that cannot
        be read any more (a Secret being remounted) keeps the keys read last, loudly."""
        try:
            files = sorted(self.directory.glob("*.pem"))
            if not files:
                raise ValueError(f"no wrapping key (*.pem) in {self.directory}")
            keys = [WrappingKey.from_pem(path.read_bytes()) for path in files]
        except (OSError, ValueError) as exc:
            if not self.keys:
                raise
            log.warning("wrapping keys not read again, the last ones kept: %s", exc)
            return
        self.keys = {k.key_id: k for k in keys}
        self.current = keys[-1]

    def public(self) -> pb.WrappingPublicKey:
        return pb.WrappingPublicKey(key_id=self.current.key_id, public_key=self.current.public_raw)

    def key(self, key_id: str) -> WrappingKey:
        found = self.keys.get(key_id)
        if found is None:
            raise CredentialRefused(f"the data key is wrapped for wrapping key {key_id}, which this edge does not "
                                    f"hold (it has {sorted(self.keys)})")
        return found


def open_credential(keyring: WrappingKeyring, sealed: pb.SealedCredential) -> Credential:
    """The credential inside `sealed`; CredentialRefused if it does not open."""
    try:
        data_key = keyring.key(sealed.wrap_key_id).unwrap(
            sealed.wrapped_key, data_key_aad(sealed.client, sealed.venue, sealed.credential_id))
        plaintext = unseal(sealed.sealed, data_key, credential_aad(sealed.client, sealed.venue, sealed.credential_id))
    except SealBroken as exc:
        raise CredentialRefused(f"credential {sealed.credential_id} refused: {exc}") from None
    return Credential.from_plaintext(plaintext, sealed.credential_id)


async def venue_permissions(exchange: Any, dialect: str) -> list[str]:
    """What the key may do, as the venue reports it: Binance's API restrictions, OKX's account
    config `perm`; other venues do not say ([])."""
    if dialect == "binance":
        r = await exchange.sapiGetAccountApiRestrictions()
        flags = {"read": "enableReading", "trade": "enableSpotAndMarginTrading", "withdraw": "enableWithdrawals"}
        return [name for name, flag in flags.items() if r.get(flag)]
    if dialect == "okx":
        rows = (await exchange.privateGetAccountConfig()).get("data") or [{}]
        names = {"read_only": "read", "trade": "trade", "withdraw": "withdraw"}
        return [names.get(p.strip(), p.strip()) for p in str(rows[0].get("perm") or "").split(",") if p.strip()]
    return []


class ClientAccounts:
    """The sealed credentials this edge holds and, per client account, its gateway (built when an
    order first needs it, from the credential opened then). `wallets`: the venue's accounts are
    wallets (a DEX): a credential is a wallet key, checked by `connect`, which builds the wallet
    (with an `address`) instead of a ccxt client."""

    def __init__(self, state_dir: Path, keyring: WrappingKeyring, dialect: str,
                 connect: Callable[[Credential], Any], gateway: Callable[[Any], VenueGateway],
                 wallets: bool = False) -> None:
        self.store = SqliteStore(state_dir / "credentials.sqlite", SCHEMA)
        self.keyring = keyring
        self.dialect = dialect
        self.wallets = wallets
        self._connect = connect  # a ccxt client signing with the credential
        self._gateway = gateway  # the venue gateway around such a client
        self.sealed: dict[str, pb.SealedCredential] = {}
        for row in self.store.db.execute("SELECT credential_id, client, venue, wrap_key_id, wrapped_key, sealed"
                                         " FROM sealed_credentials"):
            self.sealed[row[0]] = pb.SealedCredential(credential_id=row[0], client=row[1], venue=row[2],
                                                      wrap_key_id=row[3], wrapped_key=row[4], sealed=row[5])
        self.gateways: dict[str, VenueGateway] = {}

    def _keep(self, sealed: pb.SealedCredential) -> None:
        with self.store:
            self.store.db.execute(
                "INSERT INTO sealed_credentials (credential_id, client, venue, wrap_key_id, wrapped_key, sealed)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(credential_id) DO UPDATE SET wrap_key_id=excluded.wrap_key_id,"
                " wrapped_key=excluded.wrapped_key, sealed=excluded.sealed",
                (sealed.credential_id, sealed.client, sealed.venue, sealed.wrap_key_id, sealed.wrapped_key,
                 sealed.sealed))
        self.sealed[sealed.credential_id] = sealed

    async def install(self, sealed: pb.SealedCredential, check: bool) -> pb.CredentialInstalled:
        """Open `sealed` (refused if it does not), ask the venue what the key may do when `check`
        (refused if it can withdraw), then keep it. Nothing opened outlives the call but the
        account's gateway."""
        kept = self.sealed.get(sealed.credential_id)
        if not check and kept == sealed:  # a reconnected CC's sync: kept already
            return pb.CredentialInstalled(credential_id=sealed.credential_id)
        if kept is not None and (kept.client, kept.venue) != (sealed.client, sealed.venue):
            # an account id is its client's for good: never handed to another's credential
            raise CredentialRefused(f"credential {sealed.credential_id} is another client's at this edge")
        self.keyring.refresh()
        credential = open_credential(self.keyring, sealed)
        if not self.wallets and (not credential.api_key or not credential.secret):
            raise CredentialRefused(f"credential {sealed.credential_id} has no API key and secret")
        permissions: list[str] = []
        exchange = self._connect(credential)
        try:
            if check:
                try:
                    permissions = await venue_permissions(exchange, self.dialect)
                except Exception as exc:  # the venue's refusal (a bad key or signature) is the answer
                    raise CredentialRefused(f"the venue refused the key: {type(exc).__name__}: {exc}") from None
                if "withdraw" in permissions:
                    raise CredentialRefused(
                        "the venue reports this API key can withdraw funds; seqmesh is non-custodial and refuses "
                        "it: create a key without the withdrawal permission", withdraw=True)
        except BaseException:
            await exchange.close()
            raise
        old = self.gateways.pop(sealed.credential_id, None)
        if old is not None:
            await old.close()
        self.gateways[sealed.credential_id] = self._gateway(exchange)
        self._keep(sealed)
        return pb.CredentialInstalled(credential_id=sealed.credential_id, permissions=permissions,
                                      address=str(exchange.address) if self.wallets else "")

    async def remove(self, credential_id: str) -> None:
        with self.store:
            self.store.db.execute("DELETE FROM sealed_credentials WHERE credential_id = ?", (credential_id,))
        self.sealed.pop(credential_id, None)
        gateway = self.gateways.pop(credential_id, None)
        if gateway is not None:
            await gateway.close()

    def rewrap(self, credentials: list[pb.SealedCredential]) -> list[pb.SealedCredential]:
        """The same credentials, their data keys wrapped for the current key (the sealed data unchanged)."""
        self.keyring.refresh()
        current = self.keyring.current
        out = []
        for sealed in credentials:
            aad = data_key_aad(sealed.client, sealed.venue, sealed.credential_id)
            try:
                data_key = self.keyring.key(sealed.wrap_key_id).unwrap(sealed.wrapped_key, aad)
            except SealBroken as exc:
                raise CredentialRefused(f"credential {sealed.credential_id} refused: {exc}") from None
            new = pb.SealedCredential()
            new.CopyFrom(sealed)
            new.wrap_key_id, new.wrapped_key = current.key_id, wrap(data_key, current.public_raw, aad)
            if sealed.credential_id in self.sealed:
                self._keep(new)
            out.append(new)
        return out

    def gateway(self, account: str) -> VenueGateway:
        """The gateway of a client's account, built from its sealed credential on first use."""
        gateway = self.gateways.get(account)
        if gateway is None:
            sealed = self.sealed.get(account)
            if sealed is None:
                raise UnknownAccount(f"no credential {account!r} at this edge")
            gateway = self.gateways[account] = self._gateway(self._connect(open_credential(self.keyring, sealed)))
        return gateway

    def knows(self, account: str) -> bool:
        return account in self.sealed

    async def close(self) -> None:
        for gateway in self.gateways.values():
            await gateway.close()
        self.gateways.clear()
        self.store.db.close()
