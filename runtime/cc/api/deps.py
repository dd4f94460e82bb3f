"""What the REST API reads and asks of the CC: handed over by the composition root, so the
API depends on the components' interfaces, never on how the CC is put together."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..algos.manager import AlgoManager
from ..clients import ClientRegistry
from ..config import CCSettings
from ..credentials.vault import CredentialVault
from ..edges import EdgeLink
from ..execalgos.scheduler import AlgoScheduler
from ..marketdata import MarketData
from ..mesh.home import RemoteHome
from ..mesh.peers import PeerMesh
from ..orders.booking import Booking
from ..orders.cache import OrderCache
from ..orders.engine import OrderEngine
from ..positions import Positions
from ..risk import RiskEngine


@dataclass(frozen=True)
class ApiDeps:
    settings: CCSettings
    engine: OrderEngine
    cache: OrderCache
    marketdata: MarketData
    positions: Positions
    risk: RiskEngine
    edges: Mapping[str, EdgeLink]
    booking: Booking
    scheduler: AlgoScheduler
    clients: ClientRegistry
    mesh: PeerMesh | None = None
    home: RemoteHome | None = None
    algos: AlgoManager | None = None
    credentials: CredentialVault | None = None
