"""``topoplace extender``: a kube-scheduler HTTP extender for NUMA-aligned placement.

kube-scheduler sends each pod's candidate nodes to ``filter`` (the extender refuses nodes where
the pod would not be NUMA-aligned under the node's Topology Manager policy) and
``prioritize`` (scores 0-10 by alignment and tightness of fit), and may send the binding to
``bind`` (the extender then counts the pod's room as taken). Node topologies and free capacity
come from NodeResourceTopology objects in a state directory. ``docs/extender.md`` describes the
protocol, the state, the scoring and the scheduler configuration.

Modules: ``protocol`` (request validation and answers), ``state`` (the cluster and the three
decisions), ``server`` (the HTTP server).
"""

from topoplace.extender.protocol import RequestError
from topoplace.extender.server import ExtenderServer, make_server, serve_in_thread
from topoplace.extender.state import ExtenderState, cluster_spec

__all__ = [
    "ExtenderServer",
    "ExtenderState",
    "RequestError",
    "cluster_spec",
    "make_server",
    "serve_in_thread",
]
