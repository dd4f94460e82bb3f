"""Clients' venue credentials: add (sealed at once, checked by the venue's edge), list, delete.

Answers show metadata only (id, venue, the key's fingerprint, when, what the venue says the key
may do): neither the key, nor the secret, nor anything sealed ever leaves the CC again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from seqmesh.common.venues import venue_kind

from ..credentials.vault import CredentialVault
from ..store import StoredCredential
from .auth import Client
from .schemas import ErrorResponse, answers


class CredentialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue: str = Field(min_length=1, max_length=64, description=(
        "a venue of the mesh (GET /v1/edges): this region's, or another region's, where it is "
        "forwarded sealed"))
    key: str | None = Field(None, min_length=1, max_length=512, description="the venue API key (order-book venues)")
    secret: str | None = Field(None, min_length=1, max_length=512, description="its secret (order-book venues)")
    passphrase: str | None = Field(None, max_length=512, description="the key's passphrase (OKX)")
    wallet_key: str | None = Field(None, min_length=1, max_length=512, description=(
        "the trading wallet's private key: at a DEX venue 32 bytes as hex, at solana the 64-byte keypair as "
        "base58 or solana-keygen's JSON array; use a wallet dedicated to trading"))

    @model_validator(mode="after")
    def _what_the_venue_needs(self) -> CredentialRequest:
        """An order-book venue signs with an API key and secret; a DEX or Solana venue's account is
        a wallet: its private key, and nothing else."""
        if venue_kind(self.venue) == "cex":
            if not self.key or not self.secret:
                raise ValueError(f"{self.venue} is an order-book venue: it needs key and secret (its API key)")
        else:
            given = [name for name in ("key", "secret", "passphrase") if getattr(self, name)]
            if given:
                raise ValueError(f"{self.venue}'s account is a wallet: give only wallet_key, not {', '.join(given)}")
            if not self.wallet_key:
                raise ValueError(f"{self.venue}'s account is a wallet: it needs wallet_key (the wallet's private key)")
        return self


class CredentialView(BaseModel):
    credential_id: str
    venue: str
    key_fingerprint: str = Field(description="sha256: and 16 hex digits of SHA-256 of the API key "
                                                 "(of the wallet's address at a DEX venue)")
    created_ns: int
    permissions: list[str] = Field(description="what the venue reported the key may do when it was added")
    wrapping_key_id: str = Field(description="the venue edges' wrapping key its data key is wrapped for")


def view(c: StoredCredential) -> dict[str, Any]:
    return {"credential_id": c.credential_id, "venue": c.venue, "key_fingerprint": c.key_fingerprint,
            "created_ns": c.created_ns, "permissions": list(c.permissions), "wrapping_key_id": c.wrap_key_id}


#: refusals particular to adding a credential
ADD_REFUSALS = {
    422: (ErrorResponse, "CREDENTIAL_REFUSED: the venue says the key can withdraw, or refuses the key"),
    503: (ErrorResponse, "VENUE_UNAVAILABLE: the venue's edge is not connected or did not answer"),
}


def credential_routes(vault: CredentialVault) -> APIRouter:
    r = APIRouter(prefix="/v1/credentials", tags=["credentials"])

    @r.post("", status_code=201, **answers(CredentialView, 404, 409, 413, status=201, also=ADD_REFUSALS,
                                           described="sealed, checked by the venue's edge and stored"))
    async def add(req: CredentialRequest, client: Client) -> dict[str, Any]:
        """Seal a venue credential for your own account there: an API key and secret at an order-book
        venue, a wallet key at a DEX or the Solana venue; refused (422) if the venue says the key can withdraw, or
        the edge refuses the wallet key."""
        return view(await vault.add(client, req.venue, req.key or "", req.secret or "", req.passphrase or "",
                                    req.wallet_key or ""))

    @r.get("", **answers(list[CredentialView]))
    async def listing(client: Client) -> list[dict[str, Any]]:
        return [view(c) for c in vault.of_client(client)]

    @r.get("/{credential_id}", **answers(CredentialView, 404))
    async def one(credential_id: str, client: Client) -> dict[str, Any]:
        return view(vault.owned(client, credential_id))

    @r.delete("/{credential_id}", **answers(CredentialView, 404, 409, described="forgotten: what it was"))
    async def delete(credential_id: str, client: Client) -> dict[str, Any]:
        """Forget a credential (the CC's sealed copy and the edge's); refused while orders on it are live."""
        c = vault.owned(client, credential_id)
        await vault.delete(client, credential_id)
        return view(c)

    return r
