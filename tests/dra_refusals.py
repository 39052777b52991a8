"""Claim sets that the scheduler's plain first-fit search refuses only after enumerating
every ordering of the devices it could take, on one node of 128 devices (8 PCIe roots of 16):

- ``no_group``: 9 devices with ``matchAttribute`` on the PCIe root, while 8 devices of every
  root are in use (8 free per root, so no root has 9);
- ``one_too_many``: 10 devices of a model of which the node has 9.

Shared by the benchmark (benches/test_bench_dra_refusal.py) and the tests, which check the
answers (both unsatisfiable) and the satisfiable neighbours (one device fewer in use, one
device fewer wanted).
"""

from __future__ import annotations

from typing import Any

DRIVER = "dra.example.com"
NODE = "node-128"


def slices() -> list[dict[str, Any]]:
    """One slice of 128 devices: device ``i`` on root ``i // 16``, model ``a`` for every
    fifteenth device (9 of them) and ``b`` for the rest."""
    devices = [
        {
            "name": f"dev-{i:03d}",
            "attributes": {
                "resource.kubernetes.io/pcieRoot": {"string": f"pci0000:{i // 16:02x}"},
                "model": {"string": "a" if i % 15 == 0 else "b"},
            },
        }
        for i in range(128)
    ]
    return [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": f"{NODE}-devices"},
            "spec": {
                "driver": DRIVER,
                "nodeName": NODE,
                "pool": {"name": NODE, "generation": 1, "resourceSliceCount": 1},
                "devices": devices,
            },
        }
    ]


def classes() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "example"},
            "spec": {"selectors": [{"cel": {"expression": f"device.driver == '{DRIVER}'"}}]},
        }
    ]


def _claim(name: str, count: int, selector: str | None, match: str | None) -> dict[str, Any]:
    exactly: dict[str, Any] = {"deviceClassName": "example", "count": count}
    if selector:
        exactly["selectors"] = [{"cel": {"expression": selector}}]
    spec: dict[str, Any] = {"requests": [{"name": "devices", "exactly": exactly}]}
    if match:
        spec["constraints"] = [{"matchAttribute": match}]
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"devices": spec},
    }


def no_group(count: int = 9) -> list[dict[str, Any]]:
    return [_claim("same-root", count, None, "resource.kubernetes.io/pcieRoot")]


def busy(per_root: int = 8) -> list[dict[str, str]]:
    """The first ``per_root`` devices of every root, in use."""
    return [
        {"driver": DRIVER, "pool": NODE, "device": f"dev-{i:03d}"}
        for i in range(128)
        if i % 16 < per_root
    ]


def one_too_many(count: int = 10) -> list[dict[str, Any]]:
    return [_claim("model-a", count, f"device.attributes['{DRIVER}'].model == 'a'", None)]
