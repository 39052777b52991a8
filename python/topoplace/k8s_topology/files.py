"""Bags of Kubernetes objects (a file's documents) as the cluster or the gang they describe.

What ``topoplace gang`` runs when ``--cluster`` or ``--gang`` is a file of Kubernetes objects,
such as ``kubectl get -o yaml`` output: :func:`load_objects_or_spec` reads the file and tells
objects from the interchange format, :func:`cluster_from_objects` and :func:`gang_from_objects`
pick the objects that matter by kind and API group and call the readers of this package.

A kind is recognised by its name and the group of its ``apiVersion``. Where the name is shared
(``Job`` of batch or Volcano, ``PodGroup`` of Coscheduling, Kubernetes or Volcano, Kueue's own
``Workload``), the group decides; an object without ``apiVersion`` counts as the
Kubernetes/Kueue kind of that name. Objects of other kinds are ignored, and listed when a bag
cannot be read. ``docs/k8s-topology.md`` ("From the command line") states the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from topoplace.errors import InvalidValueError, ObjectError
from topoplace.k8s_topology._common import _api_group, _root, read_documents
from topoplace.k8s_topology.gangs import (
    _COSCHED_GROUPS,
    gang_from_coscheduling,
    gang_from_kueue_job,
    gang_from_workload,
)
from topoplace.k8s_topology.nodes import cluster_from_kueue
from topoplace.k8s_topology.nrt import apply_nrt
from topoplace.k8s_topology.volcano import cluster_from_hypernodes, gang_from_volcano_job

__all__ = ["cluster_from_objects", "gang_from_objects", "load_objects_or_spec"]

_KUEUE = (None, "kueue.x-k8s.io")
_GANG_HINT = (
    "expected one Workload (scheduling.k8s.io), Coscheduling PodGroup (scheduling.x-k8s.io), "
    "Volcano Job (batch.volcano.sh), or one Job, JobSet, Pod or Kubeflow job for Kueue"
)


def _is(obj: Mapping[str, Any], kind: str, groups: tuple[str | None, ...]) -> bool:
    return obj.get("kind") == kind and _api_group(obj) in groups


def _kinds(objects: Sequence[Mapping[str, Any]]) -> str:
    """``"64 Node, 1 Topology (kueue.x-k8s.io)"``: the kinds of a bag, in order of appearance."""
    counts: dict[str, int] = {}
    for obj in objects:
        kind = obj.get("kind")
        label = kind if isinstance(kind, str) and kind else "<no kind>"
        group = _api_group(obj)
        label = f"{label} ({group})" if group else label
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "no objects"


def _names(objects: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(_root(o, "object").obj for o in objects)


def _fail(source: str, what: str, objects: Sequence[Mapping[str, Any]]) -> InvalidValueError:
    return InvalidValueError(f"{source}: {what}; the objects found: {_kinds(objects)}")


@contextmanager
def _named(source: str | None) -> Iterator[None]:
    """Prefixes the readers' errors with the file (``source``), keeping their fields."""
    if source is None:
        yield
        return
    try:
        yield
    except ObjectError as e:
        raise ObjectError(f"{source}: {e}", e.object, e.path, e.reason) from e
    except InvalidValueError as e:
        raise InvalidValueError(f"{source}: {e}") from e


def _topologies(objects: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [o for o in objects if _is(o, "Topology", _KUEUE)]


def _hypernodes(objects: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [o for o in objects if _is(o, "HyperNode", (None, "topology.volcano.sh"))]


def _flavor(
    objects: Sequence[Mapping[str, Any]], topology: Mapping[str, Any], source: str
) -> Mapping[str, Any] | None:
    """The one ``ResourceFlavor`` whose ``spec.topologyName`` names ``topology``, if any."""
    name = _root(topology, "Topology").at("metadata").at("name").opt_text()
    flavors = []
    for obj in objects:
        if _is(obj, "ResourceFlavor", _KUEUE):
            spec = obj.get("spec")
            if isinstance(spec, Mapping) and spec.get("topologyName") == name:
                flavors.append(obj)
    if len(flavors) > 1:
        raise _fail(
            source,
            f"{len(flavors)} ResourceFlavors name Topology {name}: {_names(flavors)}",
            objects,
        )
    return flavors[0] if flavors else None


def cluster_from_objects(
    objects: Iterable[Mapping[str, Any]], *, source: str | None = None
) -> dict[str, Any]:
    """The cluster a bag of objects describes, in the interchange format.

    The bag holds either one Kueue ``Topology`` (``kueue.x-k8s.io``), read with
    :func:`cluster_from_kueue` and the one ``ResourceFlavor`` whose ``spec.topologyName`` names
    it (flavors of other topologies, or of none, are ignored), or Volcano ``HyperNode`` objects,
    read with :func:`cluster_from_hypernodes`; then every ``Node``, and
    ``NodeResourceTopology`` objects, applied with :func:`apply_nrt`. Other kinds are ignored.

    Args:
        objects: the objects, e.g. :func:`load_objects_or_spec` of a file.
        source: the file, named in errors.

    Raises:
        InvalidValueError: two Topologies, a Topology and HyperNodes, two ResourceFlavors of
            the Topology, neither a Topology nor a HyperNode, or no Node (the message lists
            the kinds found).
        ObjectError: an object is malformed.
    """
    bag = list(objects)
    where = source or "cluster objects"
    topologies = _topologies(bag)
    hypernodes = _hypernodes(bag)
    if len(topologies) > 1:
        raise _fail(where, f"{len(topologies)} Kueue Topologies ({_names(topologies)})", bag)
    if topologies and hypernodes:
        raise _fail(where, "both a Kueue Topology and Volcano HyperNodes", bag)
    if not topologies and not hypernodes:
        raise _fail(where, "no Kueue Topology and no Volcano HyperNode to give the levels", bag)
    nodes = [o for o in bag if _is(o, "Node", (None, ""))]
    if not nodes:
        raise _fail(where, "no Node objects", bag)
    nrts = [o for o in bag if _is(o, "NodeResourceTopology", (None, "topology.node.k8s.io"))]
    flavor = _flavor(bag, topologies[0], where) if topologies else None
    with _named(source):
        if topologies:
            cluster = cluster_from_kueue(topologies[0], nodes, flavor=flavor)
        else:
            cluster = cluster_from_hypernodes(hypernodes, nodes)
        return apply_nrt(cluster, nrts) if nrts else cluster


def _kueue_jobs(bag: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The job-like objects :func:`gang_from_kueue_job` reads, less those another one owns
    (a JobSet's Jobs, a Job's Pods)."""

    def job_like(o: Mapping[str, Any]) -> bool:
        spec = o.get("spec")
        roles = isinstance(spec, Mapping) and any(
            isinstance(k, str) and k.endswith("ReplicaSpecs") for k in spec
        )
        return (
            _is(o, "Job", (None, "batch"))
            or _is(o, "JobSet", (None, "jobset.x-k8s.io"))
            or _is(o, "Pod", (None, ""))
            or roles
        )

    def text(m: Mapping[str, Any], key: str) -> str | None:
        value = m.get(key)
        return value if isinstance(value, str) else None

    def meta(o: Mapping[str, Any]) -> Mapping[str, Any]:
        value = o.get("metadata")
        return value if isinstance(value, Mapping) else {}

    jobs = [o for o in bag if job_like(o)]
    # Owner references name an object of the same namespace by kind and name.
    present = {(text(meta(o), "namespace"), text(o, "kind"), text(meta(o), "name")) for o in jobs}

    def owned(o: Mapping[str, Any]) -> bool:
        refs = meta(o).get("ownerReferences")
        return isinstance(refs, list) and any(
            isinstance(r, Mapping)
            and (text(meta(o), "namespace"), text(r, "kind"), text(r, "name")) in present
            for r in refs
        )

    return [o for o in jobs if not owned(o)]


def gang_from_objects(
    objects: Iterable[Mapping[str, Any]],
    *,
    cluster_objects: Iterable[Mapping[str, Any]] = (),
    source: str | None = None,
) -> dict[str, Any]:
    """The gang a bag of objects describes, in the interchange format.

    The bag holds exactly one gang-defining object, found in this order:

    1. a ``Workload`` (``scheduling.k8s.io``), a Coscheduling ``PodGroup``
       (``scheduling.x-k8s.io``) or a Volcano ``Job`` (``batch.volcano.sh``): exactly one of
       them; the rest of the bag is its members (Pods, Jobs, PodGroups), read with
       :func:`gang_from_workload`, :func:`gang_from_coscheduling` or
       :func:`gang_from_volcano_job` (its HyperNodes: those of ``cluster_objects``, else of
       the bag);
    2. else one Kueue job: a batch ``Job``, ``JobSet``, ``Pod`` or Kubeflow job
       (``spec.<role>ReplicaSpecs``), not counting those another one in the bag owns
       (``metadata.ownerReferences``), read with :func:`gang_from_kueue_job` and the
       ``ResourceFlavor`` that :func:`cluster_from_objects` picks from ``cluster_objects``
       (its node labels and tolerations, as Kueue adds them on admission).

    Args:
        objects: the gang's objects.
        cluster_objects: the cluster's objects, if the cluster is given as objects.
        source: the file, named in errors.

    Raises:
        InvalidValueError: no gang-defining object, or more than one (the message lists the
            kinds found), or a Volcano Job without HyperNodes.
        ObjectError: an object is malformed.
    """
    bag = list(objects)
    cluster = list(cluster_objects)
    where = source or "gang objects"
    workloads = [o for o in bag if _is(o, "Workload", (None, "scheduling.k8s.io"))]
    podgroups = [o for o in bag if _is(o, "PodGroup", _COSCHED_GROUPS)]
    volcano = [o for o in bag if _is(o, "Job", ("batch.volcano.sh",))]
    owners = workloads + podgroups + volcano
    if len(owners) > 1:
        raise _fail(where, f"{len(owners)} gang-defining objects ({_names(owners)})", bag)
    if owners:
        owner = owners[0]
        if volcano:
            hypernodes = _hypernodes(cluster) or _hypernodes(bag)
            if not hypernodes:
                raise InvalidValueError(
                    f"{where}: {_names(volcano)} needs the cluster's HyperNode objects; "
                    "neither the cluster's objects nor this bag hold any"
                )
            with _named(source):
                return gang_from_volcano_job(owner, hypernodes)
        with _named(source):
            if workloads:
                return gang_from_workload(owner, bag)
            return gang_from_coscheduling(owner, bag)
    jobs = _kueue_jobs(bag)
    if len(jobs) > 1:
        raise _fail(where, f"{len(jobs)} jobs ({_names(jobs)}); give one per file", bag)
    if not jobs:
        raise _fail(where, f"nothing that defines a gang ({_GANG_HINT})", bag)
    topologies = _topologies(cluster)
    flavor = _flavor(cluster, topologies[0], "cluster objects") if len(topologies) == 1 else None
    with _named(source):
        return gang_from_kueue_job(jobs[0], flavor=flavor)


def load_objects_or_spec(path: str | Path) -> list[dict[str, Any]] | dict[str, Any]:
    """A ``topoplace gang`` input file: its Kubernetes objects (a list), or the interchange
    dict (``docs/cluster.md``).

    It holds objects when it has several documents, or its one document is a list, or a
    mapping with ``apiVersion`` and ``kind``; ``...List`` objects are replaced by their
    ``items``. A ``.json`` file is JSON, anything else YAML (needs pyyaml).

    Raises:
        InvalidValueError: the file cannot be read or parsed, is empty, or a document is
            neither a mapping nor a list of mappings.
    """
    docs = read_documents(path)
    if not docs:
        raise InvalidValueError(f"{path}: empty")
    if len(docs) == 1 and isinstance(docs[0], dict):
        doc = docs[0]
        if not (isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)):
            return doc
    out: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        for item in doc if isinstance(doc, list) else [doc]:
            if not isinstance(item, dict):
                raise InvalidValueError(f"{path}: document {i}: expected an object")
            kind = item.get("kind")
            items = item.get("items")
            if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
                for sub in items:
                    if not isinstance(sub, dict):
                        raise InvalidValueError(
                            f"{path}: document {i}: {kind} items: expected objects"
                        )
                    out.append(sub)
            else:
                out.append(item)
    return out
