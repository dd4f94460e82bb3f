"""OKX v5 request signing: OK-ACCESS-KEY, -PASSPHRASE, -TIMESTAMP and -SIGN headers.

The signature is base64(HMAC-SHA256(secret, timestamp + METHOD + request path with query + body)),
the timestamp an ISO 8601 UTC time with milliseconds that must be within 30 s of the venue's clock.
Refusals carry OKX's 501xx codes and answer HTTP 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from .okx_format import OkxError

#: How far a request's OK-ACCESS-TIMESTAMP may be from the venue's clock.
TIMESTAMP_TOLERANCE_MS = 30_000


def _refused(code: str, msg: str) -> OkxError:
    return OkxError(code, msg, status=401)


def _timestamp_ms(text: str) -> int:
    if not text.endswith("Z"):
        raise _refused("50112", "Invalid OK-ACCESS-TIMESTAMP")
    try:
        return int(datetime.fromisoformat(text[:-1] + "+00:00").timestamp() * 1000)
    except ValueError:
        raise _refused("50112", "Invalid OK-ACCESS-TIMESTAMP") from None


def verify(headers: Mapping[str, str], method: str, path_qs: str, body: str, secrets: dict[str, str],
           passphrases: dict[str, str], now_ms: int) -> str:
    """Check a private request's headers and return its account (the API key)."""
    key = headers.get("OK-ACCESS-KEY", "")
    sign = headers.get("OK-ACCESS-SIGN", "")
    stamp = headers.get("OK-ACCESS-TIMESTAMP", "")
    passphrase = headers.get("OK-ACCESS-PASSPHRASE", "")
    for value, code, name in ((key, "50103", "OK-ACCESS-KEY"), (passphrase, "50104", "OK-ACCESS-PASSPHRASE"),
                              (sign, "50106", "OK-ACCESS-SIGN"), (stamp, "50107", "OK-ACCESS-TIMESTAMP")):
        if not value:
            raise _refused(code, f"Request header {name} can not be empty.")
    at = _timestamp_ms(stamp)
    if abs(now_ms - at) > TIMESTAMP_TOLERANCE_MS:
        raise _refused("50102", "Timestamp request expired.")
    secret = secrets.get(key)
    if secret is None:
        raise _refused("50111", "Invalid OK-ACCESS-KEY.")
    if not hmac.compare_digest(passphrases.get(key, "").encode(), passphrase.encode()):
        raise _refused("50105", "Invalid OK-ACCESS-PASSPHRASE.")
    expected = base64.b64encode(
        hmac.new(secret.encode(), (stamp + method.upper() + path_qs + body).encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, sign.encode()):
        raise _refused("50113", "Invalid Sign.")
    return key
