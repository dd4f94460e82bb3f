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


class CredentialError(BaseModel):
    error: dict[str, Any]


def view(c: StoredCredential) -> dict[str, Any]:
    return {"credential_id": c.credential_id, "venue": c.venue, "key_fingerprint": c.key_fingerprint,
            "created_ns": c.created_ns, "permissions": list(c.permissions), "wrapping_key_id": c.wrap_key_id}


def _refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": CredentialError} for code in (400, 401, *codes)}


def credential_routes(vault: CredentialVault) -> APIRouter:
    r = APIRouter(prefix="/v1/credentials", tags=["credentials"])

    @r.post("", status_code=201, response_model=None,
            responses={201: {"model": CredentialView}, **_refusals(404, 409, 422, 503)})
    async def add(req: CredentialRequest, client: Client) -> dict[str, Any]:
        """Seal a venue credential for your own account there; refused (422) if the venue says the key
        can withdraw."""
        return view(await vault.add(client, req.venue, req.key, req.secret, req.passphrase or "",
                                    req.wallet_key or ""))

    @r.get("", response_model=None, responses={200: {"model": list[CredentialView]}, **_refusals()})
    async def listing(client: Client) -> list[dict[str, Any]]:
        return [view(c) for c in vault.of_client(client)]

    @r.get("/{credential_id}", response_model=None, responses={200: {"model": CredentialView}, **_refusals(404)})
    async def one(credential_id: str, client: Client) -> dict[str, Any]:
        return view(vault.owned(client, credential_id))

    @r.delete("/{credential_id}", response_model=None,
              responses={200: {"model": CredentialView}, **_refusals(404, 409)})
    async def delete(credential_id: str, client: Client) -> dict[str, Any]:
        """Forget a credential (the CC's sealed copy and the edge's); refused while orders on it are live."""
        c = vault.owned(client, credential_id)
        await vault.delete(client, credential_id)
        return view(c)

    return r
