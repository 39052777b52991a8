"""A DRA-style CPU allocator loop, written the way a kopf or kubernetes-client controller calls
topoplace: Kubernetes objects as dicts in, status patches out.

The objects are what ``CustomObjectsApi``/``ResourceV1Api`` list calls return once passed
through ``ApiClient().sanitize_for_serialization`` (here: read from ``examples/data/``). Each
pending ResourceClaim (one without ``status.allocation``) is allocated on the node with
:func:`topoplace.dra.allocate`, in list order, counting what the claims allocated before it
hold. A claim that fits gives the body of a status patch (what a controller would pass to
``patch_namespaced_resource_claim_status``); one that does not fit gives a Warning Event.

No network and no ``kubernetes`` import: the decisions are pure functions, ``main()`` prints
them as JSON.

    python examples/dra_cpu_controller.py [--data examples/data] [--node cpu-node-01]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from topoplace import dra

DATA = Path(__file__).resolve().parent / "data"
NODE = "cpu-node-01"
#: dra-driver-cpu publishes one shareable device per NUMA node ("grouped" mode): claims take
#: CPUs out of its ``dra.cpu/cpu`` capacity, which needs this feature gate.
FEATURES = ("DRAConsumableCapacity",)
CONTROLLER = "topoplace-dra-cpu-controller"


def items(obj: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The objects of a ``...List`` object (as a client's list call returns it) or a list."""
    if isinstance(obj, Mapping):
        listed = obj.get("items", [obj])
    else:
        listed = obj
    return [dict(o) for o in listed]


def is_pending(claim: Mapping[str, Any]) -> bool:
    """A claim still to allocate: no allocation yet and not being deleted."""
    meta = claim.get("metadata") or {}
    status = claim.get("status") or {}
    return not status.get("allocation") and not meta.get("deletionTimestamp")


def claim_key(claim: Mapping[str, Any]) -> str:
    meta = claim["metadata"]
    return f"{meta.get('namespace', 'default')}/{meta['name']}"


def status_patch(allocation: Mapping[str, Any]) -> dict[str, Any]:
    """The body of the status subresource patch that records one claim's allocation."""
    return {"status": {"allocation": dict(allocation)}}


def refusal_event(claim: Mapping[str, Any], node: str, reason: str) -> dict[str, Any]:
    """An ``events.k8s.io/v1``-style Event saying why the claim does not fit on the node."""
    meta = claim["metadata"]
    return {
        "type": "Warning",
        "reason": "AllocationFailed",
        "action": "Allocate",
        "reportingController": CONTROLLER,
        "regarding": {
            "apiVersion": claim.get("apiVersion", "resource.k8s.io/v1"),
            "kind": "ResourceClaim",
            "namespace": meta.get("namespace", "default"),
            "name": meta["name"],
            "uid": meta.get("uid", ""),
        },
        "note": f"cannot allocate on node {node}: {reason}",
    }


def reconcile(
    claims: Iterable[Mapping[str, Any]],
    slices: dra.SlicesLike,
    classes: dra.ClassesLike,
    *,
    node: str = NODE,
    features: Iterable[str] = FEATURES,
) -> list[dict[str, Any]]:
    """One pass of the controller over the listed claims, in order.

    Returns one action per pending claim: ``{"claim": "ns/name", "action": "patch", "body":
    {"status": {"allocation": ...}}}`` or ``{"claim": ..., "action": "event", "body": Event}``.
    Claims already allocated are in use and get no action. Each new allocation counts as in
    use for the claims after it, as it would once its patch is applied.
    """
    parsed_slices = dra.parse_slices(slices)
    parsed_classes = dra.parse_classes(classes)
    gates = list(features)
    listed = [dict(c) for c in claims]
    held = [c for c in listed if not is_pending(c) and (c.get("status") or {}).get("allocation")]
    actions: list[dict[str, Any]] = []
    for claim in listed:
        if not is_pending(claim):
            continue
        result = dra.allocate(
            parsed_slices,
            parsed_classes,
            claim,
            node=node,
            allocated_claims=held,
            features=gates,
        )
        if isinstance(result, dra.Unsatisfiable):
            event = refusal_event(claim, node, result.reason)
            actions.append({"claim": claim_key(claim), "action": "event", "body": event})
            continue
        patch = status_patch(result[0])
        actions.append({"claim": claim_key(claim), "action": "patch", "body": patch})
        allocated = copy.deepcopy(claim)
        allocated["status"] = patch["status"]
        held.append(allocated)
    return actions


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the list objects")
    parser.add_argument("--node", default=NODE, help="the node to allocate on")
    args = parser.parse_args(argv)
    # The list objects are unwrapped here: topoplace reads a ``...List`` with a ``metadata``
    # field (as list calls return it) as one object of that kind.
    actions = reconcile(
        items(load(args.data / "resourceclaims.json")),
        items(load(args.data / "resourceslices.json")),
        items(load(args.data / "deviceclasses.json")),
        node=args.node,
    )
    json.dump(actions, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
