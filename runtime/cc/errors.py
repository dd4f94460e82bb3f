"""Refusals the client sees: raised before anything is written, answered as a 4xx."""

from __future__ import annotations


class OrderError(Exception):
    """A request refused before anything is written; `status` is the HTTP status to answer."""

    def __init__(self, code: str, message: str, status: int = 400, **detail: str) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.detail = code, message, status, detail
