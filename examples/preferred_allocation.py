"""A ``GetPreferredAllocation`` helper for a Kubernetes device plugin, on topoplace's GPU set
selection.

The kubelet asks a device plugin which ``allocationSize`` devices it prefers among the
``availableDeviceIDs``, always including the ``mustIncludeDeviceIDs``. Here a device ID is a
GPU of a :class:`topoplace.Topology`: its name (``"GPU3"``) or its ordinal (``"3"``). The
answer is :func:`topoplace.select_gpus`'s best-linked set (NVLink/NVSwitch first, then the
PCIe distance), in the caller's ID form.

    python examples/preferred_allocation.py [--topology dgx-h100]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from topoplace import Topology, select_gpus


def _ordinals(topology: Topology, ids: Sequence[str]) -> dict[str, int]:
    """Each device ID's GPU ordinal; raises ``ValueError`` on an ID that is not a GPU."""
    by_name = {gpu.name: i for i, gpu in enumerate(topology.gpus)}
    count = len(by_name)
    out: dict[str, int] = {}
    for device_id in ids:
        if device_id in by_name:
            out[device_id] = by_name[device_id]
        elif device_id.isdigit() and int(device_id) < count:
            out[device_id] = int(device_id)
        else:
            raise ValueError(f"device ID {device_id!r} is not a GPU of this topology")
    return out


def get_preferred_allocation(
    topology: Topology, available: list[str], must_include: list[str], size: int
) -> list[str]:
    """The ``size`` device IDs of ``available`` to prefer, ``must_include`` among them.

    Raises ``ValueError`` when the request cannot be met (an unknown ID, a must-include ID
    that is not available, ``size`` below the must-include count or above the available
    count): the kubelet then falls back to its own choice.
    """
    ordinal = _ordinals(topology, available)
    missing = [d for d in must_include if d not in ordinal]
    if missing:
        raise ValueError(f"must-include devices not available: {', '.join(missing)}")
    if not len(set(must_include)) <= size <= len(ordinal):
        raise ValueError(f"size {size}: needs {len(set(must_include))} to {len(ordinal)} devices")
    chosen = select_gpus(
        topology,
        size,
        available=sorted(set(ordinal.values())),
        required=sorted({ordinal[d] for d in must_include}),
    )
    if chosen is None:  # pragma: no cover - ruled out by the checks above
        raise ValueError(f"no set of {size} GPUs among {available}")
    by_ordinal = {o: d for d, o in reversed(ordinal.items())}  # the first ID of each GPU
    return [by_ordinal[o] for o in chosen["indices"]]


def preferred_allocation_response(topology: Topology, request: Mapping[str, Any]) -> dict[str, Any]:
    """A ``PreferredAllocationRequest`` (as a dict in the gRPC message's JSON form) answered:
    one ``deviceIDs`` list per container request."""
    responses = [
        {
            "deviceIDs": get_preferred_allocation(
                topology,
                list(req.get("availableDeviceIDs", [])),
                list(req.get("mustIncludeDeviceIDs", [])),
                int(req["allocationSize"]),
            )
        }
        for req in request.get("containerRequests", [])
    ]
    return {"containerResponses": responses}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", default="dgx-h100", help="a built-in topology name")
    args = parser.parse_args(argv)
    topology = Topology.builtin(args.topology)
    names = [gpu.name for gpu in topology.gpus]
    # GPU1 and GPU4 are in use; one container must keep GPU6, one gets 4 GPUs by ordinal.
    free = [n for n in names if n not in ("GPU1", "GPU4")]
    request = {
        "containerRequests": [
            {"availableDeviceIDs": free, "mustIncludeDeviceIDs": ["GPU6"], "allocationSize": 3},
            {"availableDeviceIDs": free, "mustIncludeDeviceIDs": [], "allocationSize": 2},
            {
                "availableDeviceIDs": [str(i) for i in range(len(names))],
                "mustIncludeDeviceIDs": ["0"],
                "allocationSize": 4,
            },
        ]
    }
    response = preferred_allocation_response(topology, request)
    print(json.dumps({"request": request, "response": response}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
