"""Built-in and synthetic machines, the model's views, JSON, pickling, exports."""

from __future__ import annotations

import json
import pickle
import threading

import networkx as nx
import numpy as np
import pytest

from topoplace import InvalidValueError, Topology, TopologyError


def test_builtin_dgx_h100() -> None:
    topo = Topology.builtin("builtin:dgx-h100")
    s = topo.summary()
    assert (s["packages"], s["numa_nodes"], s["cores"], s["cpus"]) == (2, 2, 112, 224)
    assert (s["gpus"], s["nics"]) == (8, 8)
    for gpu, nic in zip(topo.gpus, topo.nics, strict=True):
        assert topo.link_class(gpu.name, nic.name) == "PIX"
        assert gpu.numa_node == nic.numa_node
        assert gpu.pcie_root == nic.pcie_root
    assert topo.link_class("GPU0", "GPU7") == "NVSWITCH"
    assert topo.link_class(0, 2) == "NVSWITCH"
    assert topo.gpus[0].model == "H100 80GB HBM3"
    assert topo.gpus[0].memory_bytes == 80 * 2**30
    # SMT siblings: CPU i and i + 112 share a core.
    assert topo.cores[0].cpus == topo.cores[0].cpus & topo.packages[0].cpus
    assert list(topo.cores[0].cpus) == [0, 112]


def test_builtin_epyc_nps4() -> None:
    topo = Topology.builtin("epyc-nps4")
    assert len(topo.numa_nodes) == 8
    assert len(topo.packages) == 2
    per_socket = [c for c in topo.caches if c.cpus.issubset(topo.packages[0].cpus)]
    assert len(per_socket) == 8
    d = topo.numa_distances
    assert d is not None and d.dtype == np.uint32 and d.shape == (8, 8)
    assert d[0, 0] == 10 and d[0, 1] == 12 and d[0, 4] == 32
    assert (d == d.T).all()


def test_unknown_builtin_lists_names() -> None:
    with pytest.raises(InvalidValueError, match="dgx-h100"):
        Topology.builtin("dgx-z9")
    assert "epyc-nps4" in Topology.builtin_names()


def test_synthetic_shapes() -> None:
    topo = Topology.synthetic(
        sockets=2,
        numa_per_socket=2,
        l3_per_numa=2,
        cores_per_numa=8,
        threads_per_core=2,
        pcie_roots_per_numa=1,
        gpus_per_root=2,
        nics_per_root=1,
        nvlink="cube-mesh",
    )
    s = topo.summary()
    assert (s["numa_nodes"], s["cores"], s["cpus"], s["gpus"], s["nics"]) == (4, 32, 64, 8, 4)
    assert topo.link_class("GPU0", "GPU3") == "NV"
    assert topo.link_class("GPU0", "GPU5") == "SYS"
    assert topo.link_class("GPU0", "GPU1") == "NV"
    assert topo.link_class("GPU0", "mlx5_0") == "PIX"


def test_synthetic_huge() -> None:
    topo = Topology.synthetic(sockets=16, numa_per_socket=64, cores_per_numa=8, threads_per_core=2)
    assert len(topo.numa_nodes) == 1024
    assert len(topo.cpus) == 16384


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sockets": 0}, "sockets"),
        ({"cores_per_numa": 6, "l3_per_numa": 4}, "l3_per_numa"),
        ({"sockets": 1024, "cores_per_numa": 1024}, "cores_per_numa"),
    ],
)
def test_synthetic_bad(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(TopologyError) as info:
        Topology.synthetic(**kwargs)
    assert info.value.object == field


def test_synthetic_bad_pattern() -> None:
    with pytest.raises(InvalidValueError, match="cube-mesh"):
        Topology.synthetic(nvlink="mesh")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", Topology.builtin_names())
def test_json_and_pickle_round_trip(name: str) -> None:
    topo = Topology.builtin(name)
    again = Topology.from_json(topo.to_json())
    assert again == topo
    assert Topology.from_json(topo.to_json(indent=True)) == topo
    assert pickle.loads(pickle.dumps(topo)) == topo
    doc = json.loads(topo.to_json())
    assert {"packages", "numa_nodes", "cores", "cpus", "devices", "links"} <= doc.keys()


def test_views_and_repr() -> None:
    topo = Topology.builtin("dgx-h100")
    assert "dgx-h100" in repr(topo) and "gpus=8" in repr(topo)
    node = topo.numa_nodes[1]
    assert (node.index, node.os_index, node.kind, node.allowed) == (1, 1, "dram", True)
    assert node.memory_bytes == 2**40
    assert "NumaNode(os_index=1" in repr(node)
    assert topo.packages[0].cpus | topo.packages[1].cpus == topo.cpus
    assert topo.usable_cpus == topo.online_cpus == topo.cpus
    assert topo.devices[0].kind == "gpu" and topo.devices[1].kind == "nic"
    assert topo.nics[0].bus_id is not None
    with pytest.raises(KeyError, match="GPU0"):
        topo.link_class("GPU0", "nope")


def test_networkx_export() -> None:
    topo = Topology.builtin("dgx-h100")
    graph = topo.to_networkx()
    assert isinstance(graph, nx.Graph)
    kinds = nx.get_node_attributes(graph, "kind")
    assert sum(1 for k in kinds.values() if k == "cpu") == 224
    assert sum(1 for k in kinds.values() if k == "device") == 16
    edge = graph.edges["device:GPU0", "device:mlx5_0"]
    assert edge["kind"] == "link" and edge["link_class"] == "PIX"
    assert graph.edges["numa:0", "numa:1"]["weight"] == 21
    assert nx.has_path(graph, "cpu:0", "device:GPU0")


def test_render_text() -> None:
    text = Topology.builtin("dgx-h100").render_text()
    assert text.startswith("Machine dgx-h100")
    assert "NUMANode N#1 dram 1 TiB" in text
    assert "GPU GPU7" in text and "PIX to 1 NIC" in text


def test_shared_between_threads() -> None:
    topo = Topology.builtin("epyc-nps4")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                assert topo.summary()["cpus"] == 256
                assert Topology.from_json(topo.to_json()) == topo
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
