"""Clients' venue credentials: add (sealed at once, checked by the venue's edge), list, delete.

Answers show metadata only (id, venue, the key's fingerprint, when, what the venue says the key
may do): neither the key, nor the secret, nor anything sealed ever leaves the CC again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..credentials.vault import CredentialVault
from ..store import StoredCredential
from .auth import Client
from .schemas import ErrorResponse, answers


class CredentialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue: str = Field(min_length=1, max_length=64, description="a venue of this region (GET /v1/edges)")
    key: str = Field(min_length=1, max_length=512, description="the venue API key")
    secret: str = Field(min_length=1, max_length=512, description="its secret")
    passphrase: str | None = Field(None, max_length=512, description="the key's passphrase (OKX)")
    wallet_key: str | None = Field(None, max_length=512, description="a wallet's private key (DEX venues)")


class CredentialView(BaseModel):
    credential_id: str
    venue: str
    key_fingerprint: str = Field(description="sha256: and 16 hex digits of SHA-256 of the API key")
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
        """Seal a venue credential for your own account there; refused (422) if the venue says the key
        can withdraw."""
        return view(await vault.add(client, req.venue, req.key, req.secret, req.passphrase or "",
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
