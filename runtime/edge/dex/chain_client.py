"""The edge's connection to one EVM node (web3.py, async): every call it makes goes through here.

A failure to reach the node is raised as ccxt's NetworkError, the order manager's word for an
outcome that is not known; a node's refusal stays web3's own error for the caller to name.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
from ccxt.base.errors import NetworkError
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from seqmesh.runtime.dex.interfaces import abi
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import TransactionNotFound
from web3.types import BlockData, BlockIdentifier, TxData, TxReceipt

T = TypeVar("T")


class ChainClient:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.w3 = AsyncWeb3(AsyncHTTPProvider(url, request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout_s)}))
        self._contracts: dict[tuple[str, str], AsyncContract] = {}

    async def call(self, awaitable: Awaitable[T]) -> T:
        """`awaitable` (a web3 request); an unreachable node becomes NetworkError."""
        try:
            return await awaitable
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"{self.url}: {type(exc).__name__}: {exc}") from exc

    def contract(self, name: str, address: str) -> AsyncContract:
        """The contract `name` (an interface of runtime/dex/interfaces.py: Token, UniswapV2Pair, ...) at `address`."""
        key = (name, address)
        found = self._contracts.get(key)
        if found is None:
            found = self._contracts[key] = self.w3.eth.contract(address=AsyncWeb3.to_checksum_address(address),
                                                                abi=abi(name))
        return found

    async def chain_id(self) -> int:
        return int(await self.call(self.w3.eth.chain_id))

    async def block(self, number: BlockIdentifier = "latest") -> BlockData:
        return await self.call(self.w3.eth.get_block(number))

    async def receipt(self, tx_hash: HexBytes) -> TxReceipt | None:
        try:
            return await self.call(self.w3.eth.get_transaction_receipt(tx_hash))
        except TransactionNotFound:
            return None

    async def transaction(self, tx_hash: HexBytes) -> TxData | None:
        """The transaction if the node knows it (pending or mined), else None (never seen, or dropped)."""
        try:
            return await self.call(self.w3.eth.get_transaction(tx_hash))
        except TransactionNotFound:
            return None

    async def nonce(self, address: ChecksumAddress, block: str = "latest") -> int:
        return int(await self.call(self.w3.eth.get_transaction_count(address, block)))  # type: ignore[arg-type]

    async def priority_fee(self) -> int:
        return int(await self.call(self.w3.eth.max_priority_fee))

    async def send_raw(self, raw: bytes) -> HexBytes:
        return await self.call(self.w3.eth.send_raw_transaction(raw))

    async def logs(self, params: Any) -> list[Any]:
        return list(await self.call(self.w3.eth.get_logs(params)))

    @staticmethod
    def topic(signature: str) -> bytes:
        """An event's first topic, e.g. `Sync(uint112,uint112)`."""
        return bytes(AsyncWeb3.keccak(text=signature))

    async def close(self) -> None:
        await self.w3.provider.disconnect()
