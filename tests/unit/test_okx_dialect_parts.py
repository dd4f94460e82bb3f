"""The OKX dialect's parts that need no process: the venue's rate limit, request signing and
its clock, the settings' checks, and the edge's client id stand-ins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from seqmesh.runtime.edge.gateway import venue_client_id
from seqmesh.runtime.venues.sim.config import VenueSettings, native_dialect
from seqmesh.runtime.venues.sim.okx_auth import verify
from seqmesh.runtime.venues.sim.okx_format import OkxError
from seqmesh.runtime.venues.sim.ratelimit import EndpointLimiter


def test_limit_counts_per_key_and_endpoint_in_a_sliding_window() -> None:
    limiter = EndpointLimiter(2, 1000)
    assert [limiter.allow("k", "POST /o", t) for t in (0, 10, 20)] == [True, True, False]
    assert limiter.allow("k", "GET /o", 20) and limiter.allow("other", "POST /o", 20)
    assert not limiter.allow("k", "POST /o", 999)  # the first still counts until 1000 ms after it
    assert limiter.allow("k", "POST /o", 1000)  # the first left the window; refusals never counted
    assert not limiter.allow("k", "POST /o", 1005)
    with pytest.raises(ValueError):
        EndpointLimiter(0, 1000)


def _signed(stamp: datetime, passphrase: str, secret: str = "s3cret", body: str = '{"a":"1"}') -> dict[str, str]:
    ts = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sign = base64.b64encode(hmac.new(secret.encode(), f"{ts}POST/api/v5/trade/order{body}".encode(),
                                     hashlib.sha256).digest()).decode()
    return {"OK-ACCESS-KEY": "key", "OK-ACCESS-SIGN": sign, "OK-ACCESS-TIMESTAMP": ts,
            "OK-ACCESS-PASSPHRASE": passphrase}


@pytest.mark.parametrize("passphrase, secret, late_s, code", [
    ("wrong", "s3cret", 0, "50105"),
    ("pass", "other", 0, "50113"),
    ("pass", "s3cret", 31, "50102"),
    ("pass", "s3cret", -31, "50102"),
])
def test_signing_refusals_carry_okx_codes(passphrase: str, secret: str, late_s: int, code: str) -> None:
    now = datetime.now(UTC)
    signed = _signed(now - timedelta(seconds=late_s), passphrase, secret)
    with pytest.raises(OkxError) as err:
        verify(signed, "POST", "/api/v5/trade/order", '{"a":"1"}', {"key": "s3cret"}, {"key": "pass"},
               int(now.timestamp() * 1000))
    assert err.value.code == code and err.value.status == 401


def test_a_well_signed_request_names_its_account() -> None:
    now = datetime.now(UTC)
    assert verify(_signed(now, "pass"), "POST", "/api/v5/trade/order", '{"a":"1"}', {"key": "s3cret"},
                  {"key": "pass"}, int(now.timestamp() * 1000)) == "key"
    with pytest.raises(OkxError) as err:  # the body is signed: another body is another request
        verify(_signed(now, "pass"), "POST", "/api/v5/trade/order", '{"a":"2"}', {"key": "s3cret"},
               {"key": "pass"}, int(now.timestamp() * 1000))
    assert err.value.code == "50113"


def test_okx_settings_need_a_passphrase_per_key_and_venues_get_their_own_dialect() -> None:
    with pytest.raises(ValidationError, match="passphrase"):
        VenueSettings(dialect="okx", api_keys={"k": "s"}, passphrases={})
    VenueSettings(dialect="binance", api_keys={"k": "s"}, passphrases={})
    assert native_dialect("okx") == "okx" and native_dialect("kraken") == native_dialect("binance") == "binance"


def test_client_id_stand_ins_fit_okx_and_are_stable_and_distinct() -> None:
    assert venue_client_id("okx", "plain42") == "plain42"
    assert venue_client_id("binance", "P17.s1-c.2") == "P17.s1-c.2"  # Binance takes the edge's ids as they are
    ids = ["P17.s1-c.2", "P17.s1c.2", "P17s1-c.2", "x" * 36, "a-b", "ab"]
    mapped = [venue_client_id("okx", cid) for cid in ids]
    assert all(re.fullmatch(r"[A-Za-z0-9]{1,32}", m) for m in mapped)
    assert len(set(mapped)) == len(ids), "ids that differ only in punctuation stay apart"
    assert mapped == [venue_client_id("okx", cid) for cid in ids], "the same id maps the same way every time"
