"""The seqmesh operator (kopf): Region, Edge, Algo and PeerLink reconciled into Deployments,
Services, ConfigMaps and certificate Secrets. Small layers: `builders` make desired objects
from specs (pure), `kube` applies them, `controllers` are the kopf handlers, one per kind."""
