"""The kube-scheduler extender wire format: request validation and response bodies.

The types are those of ``k8s.io/kube-scheduler/extender/v1`` (``types.go``). Their fields carry
no ``json`` tags, so kube-scheduler's ``encoding/json`` writes the Go field names
(``{"Pod": ..., "Nodes": ..., "NodeNames": [...]}``) and reads answers case-insensitively.
This module does the same: request fields are matched case-insensitively (so the lowercase
spellings of hand-written extenders, ``"pod"``, ``"nodenames"``, are accepted too), unknown
fields are ignored as Go ignores them, and answers use the Go field names. The Pod and Node
objects inside are ordinary API objects with lowercase fields (``metadata``, ``spec``).

Every check raises :class:`RequestError`, whose message names the field
(``NodeNames[3]: expected a string, got int``); the server answers it with a 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from topoplace.errors import ObjectError, TopoplaceError
from topoplace.k8s_topology._common import Quantity, _root
from topoplace.k8s_topology.pods import _pod_requests

__all__ = [
    "MAX_EXTENDER_PRIORITY",
    "BindingArgs",
    "ExtenderArgs",
    "PodInfo",
    "RequestError",
    "binding_args",
    "binding_result",
    "extender_args",
    "filter_result",
    "host_priority_list",
    "parse_json",
]

#: The highest score an extender may give (``MaxExtenderPriority``); the lowest is 0.
MAX_EXTENDER_PRIORITY = 10


class RequestError(TopoplaceError, ValueError):
    """A request body is malformed; the message names the field (answered with a 400)."""


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body."""
    try:
        return json.loads(body)
    except UnicodeDecodeError as e:
        raise RequestError(f"invalid JSON: not UTF-8 ({e.reason} at byte {e.start})") from e
    except json.JSONDecodeError as e:
        raise RequestError(f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    except RecursionError as e:
        raise RequestError("invalid JSON: nested too deeply") from e


def _fields(value: object, what: str, names: tuple[str, ...]) -> dict[str, Any]:
    """The known fields of a Go struct's JSON object, matched case-insensitively as Go's
    ``encoding/json`` matches them; a field given twice (in two spellings) is refused."""
    if not isinstance(value, dict):
        raise RequestError(f"{what}: expected an object, got {_kind(value)}")
    canon = {n.lower(): n for n in names}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = canon.get(key.lower())
        if name is None:
            continue
        if name in out:
            raise RequestError(f"{what}: field {name} given twice (as {key!r} and another)")
        out[name] = item
    return out


def _text(value: object, where: str, *, required: bool) -> str:
    if value is None or value == "":
        if required:
            raise RequestError(f"{where}: missing")
        return ""
    if not isinstance(value, str):
        raise RequestError(f"{where}: expected a string, got {_kind(value)}")
    return value


@dataclass(frozen=True)
class PodInfo:
    """The pod of a request: its identity and effective requests (kube-scheduler's sum)."""

    namespace: str
    name: str
    uid: str
    request: Mapping[str, Quantity]

    @property
    def key(self) -> str:
        """The UID, else ``namespace/name``: how ``bind`` finds the pod again."""
        return self.uid or f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ExtenderArgs:
    """``ExtenderArgs``: the pod, the candidate node names and, when kube-scheduler sent
    ``Nodes`` (``nodeCacheCapable: false``), the Node objects (answered with a NodeList)."""

    pod: PodInfo
    node_names: list[str]
    nodes: list[dict[str, Any]] | None


@dataclass(frozen=True)
class BindingArgs:
    """``ExtenderBindingArgs``."""

    pod_name: str
    pod_namespace: str
    pod_uid: str
    node: str

    @property
    def key(self) -> str:
        return self.pod_uid or f"{self.pod_namespace}/{self.pod_name}"


def _pod(value: object) -> PodInfo:
    if not isinstance(value, dict):
        raise RequestError(f"Pod: expected an object, got {_kind(value)}")
    # Pods from kube-scheduler's informer cache often carry no kind, so none is required.
    try:
        at = _root(value, "Pod")
        meta = at.at("metadata")
        name = meta.at("name").text()
        namespace = meta.at("namespace").opt_text() or ""
        uid = meta.at("uid").opt_text() or ""
        request = _pod_requests(at.at("spec"))
    except ObjectError as e:
        raise RequestError(f"Pod.{e.path}: {e.reason} ({e.object})") from e
    return PodInfo(namespace, name, uid, request)


def _node_items(value: object) -> list[dict[str, Any]]:
    items = _fields(value, "Nodes", ("items",)).get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise RequestError(f"Nodes.items: expected an array, got {_kind(items)}")
    for i, node in enumerate(items):
        where = f"Nodes.items[{i}]"
        if not isinstance(node, dict):
            raise RequestError(f"{where}: expected an object, got {_kind(node)}")
        meta = node.get("metadata")
        if not isinstance(meta, dict):
            raise RequestError(f"{where}.metadata: expected an object, got {_kind(meta)}")
        _text(meta.get("name"), f"{where}.metadata.name", required=True)
    return items


def extender_args(body: object) -> ExtenderArgs:
    """A validated ``ExtenderArgs`` (the body of ``filter`` and ``prioritize``).

    ``Pod`` is required, and exactly one of ``Nodes`` (a NodeList) and ``NodeNames`` (an
    array of names); ``null`` counts as absent, as in Go. A name may not repeat.
    """
    fields = _fields(body, "ExtenderArgs", ("Pod", "Nodes", "NodeNames"))
    if fields.get("Pod") is None:
        raise RequestError("Pod: missing")
    pod = _pod(fields["Pod"])
    raw_names, raw_nodes = fields.get("NodeNames"), fields.get("Nodes")
    if raw_names is not None and raw_nodes is not None:
        raise RequestError("Nodes, NodeNames: give one, not both")
    nodes: list[dict[str, Any]] | None = None
    if raw_nodes is not None:
        nodes = _node_items(raw_nodes)
        names = [n["metadata"]["name"] for n in nodes]
        where = "Nodes.items[{}].metadata.name"
    elif raw_names is not None:
        if not isinstance(raw_names, list):
            raise RequestError(f"NodeNames: expected an array, got {_kind(raw_names)}")
        # The common case checked at C speed; the loop only finds the culprit.
        if raw_names and (set(map(type, raw_names)) != {str} or "" in raw_names):
            for i, name in enumerate(raw_names):
                _text(name, f"NodeNames[{i}]", required=True)
        names = raw_names
        where = "NodeNames[{}]"
    else:
        raise RequestError("Nodes, NodeNames: missing (one is required)")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                raise RequestError(f"{where.format(i)}: node {name!r} repeats")
            seen.add(name)
    return ExtenderArgs(pod, names, nodes)


def binding_args(body: object) -> BindingArgs:
    """A validated ``ExtenderBindingArgs``: ``PodName`` and ``Node`` are required."""
    fields = _fields(body, "ExtenderBindingArgs", ("PodName", "PodNamespace", "PodUID", "Node"))
    return BindingArgs(
        pod_name=_text(fields.get("PodName"), "PodName", required=True),
        pod_namespace=_text(fields.get("PodNamespace"), "PodNamespace", required=False),
        pod_uid=_text(fields.get("PodUID"), "PodUID", required=False),
        node=_text(fields.get("Node"), "Node", required=True),
    )


def filter_result(
    args: ExtenderArgs,
    passed: list[str],
    failed: Mapping[str, str],
    unresolvable: Mapping[str, str],
) -> dict[str, Any]:
    """``ExtenderFilterResult`` in the form the request came in: ``NodeNames`` for names,
    ``Nodes`` (the passing Node objects, as received) for a NodeList."""
    if args.nodes is None:
        nodes: dict[str, Any] | None = None
        names: list[str] | None = passed
    else:
        keep = set(passed)
        items = [n for n in args.nodes if n["metadata"]["name"] in keep]
        nodes, names = {"metadata": {}, "items": items}, None
    return {
        "Nodes": nodes,
        "NodeNames": names,
        "FailedNodes": dict(failed),
        "FailedAndUnresolvableNodes": dict(unresolvable),
        "Error": "",
    }


def host_priority_list(scores: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """``HostPriorityList``: ``[{"Host", "Score"}]``, scores 0 to 10."""
    return [{"Host": host, "Score": score} for host, score in scores]


def binding_result(error: str | None) -> dict[str, str]:
    """``ExtenderBindingResult``: ``{"Error": ""}`` on success."""
    return {"Error": error or ""}
