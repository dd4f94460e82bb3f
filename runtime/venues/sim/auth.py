"""Binance-style request signing: HMAC-SHA256 of the parameters with the API secret."""

from __future__ import annotations

import hashlib
import hmac
import re

from .orders import Rejected, RejectReason

_SIGNATURE = re.compile(r"(?:^|&)signature=([0-9a-fA-F]+)(?=&|$)")


class AuthError(Rejected):
    """Authentication failures answer HTTP 401 rather than 400."""


def verify(total_params: str, secrets: dict[str, str], api_key: str | None, timestamp: int | None,
           recv_window: int, now_ms: int) -> str:
    """Check a signed request and return its account; `total_params` is query + body."""
    if not api_key:
        raise AuthError(RejectReason.BAD_API_KEY_FORMAT, "API-key format invalid.")
    secret = secrets.get(api_key)
    if secret is None:
        raise AuthError(RejectReason.REJECTED_API_KEY, "Invalid API-key, IP, or permissions for action.")
    match = _SIGNATURE.search(total_params)
    if match is None:
        raise AuthError(RejectReason.MANDATORY_PARAM, "Mandatory parameter 'signature' was not sent.")
    signed = (total_params[: match.start()] + total_params[match.end():]).lstrip("&")
    expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise AuthError(RejectReason.INVALID_SIGNATURE, "Signature for this request is not valid.")
    if timestamp is None:
        raise AuthError(RejectReason.MANDATORY_PARAM, "Mandatory parameter 'timestamp' was not sent.")
    if not (now_ms - recv_window <= timestamp <= now_ms + 1000):
        raise AuthError(RejectReason.INVALID_TIMESTAMP,
                        "Timestamp for this request is outside of the recvWindow.")
    return api_key
