"""Kubernetes topology and gang objects, read into topoplace's cluster and gang interchange dicts.

Pure Python (stdlib only): no native code, no Kubernetes client. Objects are plain dicts in the
API's shape (``yaml.safe_load`` output, JSON, or a client's ``sanitize_for_serialization``).

Clusters: :func:`cluster_from_kueue` (a Kueue ``Topology`` + Node objects, optionally filtered by
a ``ResourceFlavor``), :func:`cluster_from_hypernodes` (Volcano ``HyperNode`` objects + Nodes), and
:func:`apply_nrt` / :func:`numa_from_nrt` (per-NUMA capacity from ``NodeResourceTopology``).
Gangs: :func:`gang_from_workload` (the Kubernetes Workload/PodGroup gang API),
:func:`gang_from_kueue_job` (Kueue TAS pod-template annotations), :func:`gang_from_volcano_job`
and :func:`gang_from_coscheduling` (scheduler-plugins ``PodGroup``). Bags of objects (a file's
documents, what ``topoplace gang`` reads): :func:`cluster_from_objects` and
:func:`gang_from_objects` pick the objects by kind and call the readers above.
``docs/k8s-topology.md`` gives the formats and every mapping rule.

Quantities are kept as given (strings such as ``"1536Gi"``, or ints) after checking their
syntax; only sums and differences (several containers, NRT used = allocatable - available) are
computed, exactly, and written back in Kubernetes syntax. A malformed object raises
:class:`~topoplace.errors.ObjectError` naming the object and the field's path, e.g.
``Topology dc-gpu: spec.levels[1].nodeLabel: missing``.

Modules: ``_common`` (field access and errors, quantities, object naming, loading), ``nodes``
(Node objects, Kueue clusters), ``volcano`` (HyperNodes, Volcano jobs), ``nrt``, ``pods``
(pod requests and gang groups), ``gangs`` (Workload, Kueue jobs, Coscheduling) and ``files``
(bags of objects, files of the command line).

    >>> from topoplace.k8s_topology import cluster_from_kueue
    >>> topo = {"kind": "Topology", "metadata": {"name": "t"},
    ...         "spec": {"levels": [{"nodeLabel": "kubernetes.io/hostname"}]}}
    >>> cluster_from_kueue(topo, [])
    {'levels': ['kubernetes.io/hostname'], 'nodes': []}
"""

from topoplace._yaml import yaml_module
from topoplace.k8s_topology._common import (
    Quantity,
    load_yaml_documents,
    objects_of_kind,
)
from topoplace.k8s_topology.files import cluster_from_objects, gang_from_objects
from topoplace.k8s_topology.gangs import (
    KUEUE_ANNOTATION_PREFIX,
    gang_from_coscheduling,
    gang_from_kueue_job,
    gang_from_workload,
)
from topoplace.k8s_topology.nodes import HOSTNAME_LABEL, cluster_from_kueue
from topoplace.k8s_topology.nrt import apply_nrt, numa_from_nrt
from topoplace.k8s_topology.volcano import (
    HYPERNODE_LABEL_PREFIX,
    cluster_from_hypernodes,
    gang_from_volcano_job,
    hypernode_levels,
)

__all__ = [
    "HOSTNAME_LABEL",
    "HYPERNODE_LABEL_PREFIX",
    "KUEUE_ANNOTATION_PREFIX",
    "Quantity",
    "apply_nrt",
    "cluster_from_hypernodes",
    "cluster_from_kueue",
    "cluster_from_objects",
    "gang_from_coscheduling",
    "gang_from_kueue_job",
    "gang_from_objects",
    "gang_from_volcano_job",
    "gang_from_workload",
    "hypernode_levels",
    "load_yaml_documents",
    "numa_from_nrt",
    "objects_of_kind",
    "yaml_module",
]
