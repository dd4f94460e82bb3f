"""Looking for a client's secret after a run over real processes: every API answer a test saw
(refusals too), the metrics page, and every file the run left (logs, databases, state), its
PKI aside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqmesh.client.api import ApiError, CCClient


class RecordedAnswers:
    def __init__(self) -> None:
        self.answers: list[str] = []

    def client(self, api: str, key: str) -> CCClient:
        """A CC client whose every answer is kept."""
        c = CCClient(api, key=key)
        inner = c.request

        def request(method: str, path: str, **kw: Any) -> Any:
            try:
                out = inner(method, path, **kw)
            except ApiError as exc:
                self.answers.append(repr(exc.body))
                raise
            self.answers.append(repr(out))
            return out

        c.request = request  # type: ignore[method-assign]
        return c

    def browse(self, c: CCClient, *paths: str) -> None:
        """Each of the client's orders in detail, then `paths` (answers kept)."""
        for order in c.orders():
            c.order(order["order_id"])
        for path in paths:
            c.request("GET", path)

    def metrics(self, api: str, monitor_key: str) -> None:
        """The metrics page, as a scraper with a monitor client's key reads it (kept)."""
        with CCClient(api, key=monitor_key) as scraper:
            page = scraper.http.get("/metrics")
            assert page.status_code == 200, page.text
            self.answers.append(page.text)

    def leaks(self, folder: Path, texts: list[str], raw: bytes, spare: tuple[Path, ...] = ()) -> list[str]:
        """Where any of `texts` (or the bytes `raw`) appears: the answers kept (their first 200
        characters) and the files under `folder` (their paths), but its PKI and `spare`."""
        found = [a[:200] for a in self.answers if any(t in a for t in texts)]
        for path in folder.rglob("*"):
            if path.is_file() and "pki" not in path.parts and path not in spare:
                data = path.read_bytes()
                if raw in data or any(t.encode() in data for t in texts):
                    found.append(str(path))
        return found
