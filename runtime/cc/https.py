"""HTTPS for the CC's client REST API: uvicorn's TLS settings and the reload of rotated files.

uvicorn builds one `ssl.SSLContext` when it starts and wraps every accepted connection with it;
loading the rotated certificate into that same context makes the next handshakes present it,
without a restart and without touching open connections.
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from seqmesh.runtime.links.tls import files_digest, until_rotated

from seqmesh.common.certs import KeyPair, key_matches

from .config import ApiTls

log = logging.getLogger(__name__)


def uvicorn_options(tls: ApiTls | None) -> dict[str, Any]:
    """uvicorn.Config's TLS arguments (none: plain HTTP)."""
    if tls is None:
        return {}
    missing = [str(p) for p in (tls.cert, tls.key) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"HTTPS certificate files missing: {', '.join(missing)}")
    return {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}


async def follow_rotation(server: uvicorn.Server, tls: ApiTls) -> None:
    """Load the certificate again each time its files change (a pair caught between its two
    writes waits for the next change)."""
    paths = (tls.cert, tls.key)
    while True:
        digest = files_digest(paths)
        await until_rotated(paths, digest)
        try:
            pair = KeyPair(tls.cert.read_bytes(), tls.key.read_bytes())
            if not key_matches(pair):
                log.warning("HTTPS: %s does not match %s (mid-rotation?); keeping the current pair", tls.key, tls.cert)
                continue
            context = server.config.ssl
            assert context is not None, "follow_rotation needs a server started with TLS"
            context.load_cert_chain(str(tls.cert), str(tls.key))
        except (OSError, ValueError) as exc:
            log.warning("HTTPS: rotated files not loaded (%s); keeping the current pair", exc)
            continue
        log.info("HTTPS: serving the rotated certificate of %s", tls.cert)
