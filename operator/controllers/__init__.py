"""kopf handlers, one module per resource kind, plus the watch of owned workloads (importing the
package registers them all)."""

from . import algo, edge, peerlink, region, workloads  # noqa: F401 - importing registers the handlers
