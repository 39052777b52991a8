#!/usr/bin/env python3
"""Generates the sysfs fixture trees beside this script (stdlib only, deterministic).

Run `python3 make_fixtures.py`; it rewrites `<name>/sys/...` (plain files and relative
symlinks, as the kernel lays them out) for every tree below. Only the files topoplace's sysfs
reader looks at are written.

Trees and what they model (facts from public sources; all other details are plausible
stand-ins, not copies of a real dump):

1. `gpu-2s-4gpu-2nic`: the ASUS ESC8000A-E12 of
   `tests/data/nvidia-smi/asus-esc8000a-e12-4x-rtx6000ada-cx7{.txt,.host.txt}`:
   2x AMD EPYC 9374F (32 cores each, SMT off: `lscpu` says 1 thread per core, 64 CPUs),
   NUMA node 0 = CPUs 0-31 (193129 MiB), node 1 = CPUs 32-63 (193477 MiB), distances 10/32
   (`numactl --hardware`); L3 = 32 MiB per 4-core CCD (AMD's EPYC 9374F spec: 256 MiB, 8 CCDs).
   4x RTX 6000 Ada (PCI 10de:26b1, class VGA 0x030000) at the bus ids `nvidia-smi` prints
   (01:00.0, 41:00.0 on socket 0; c1:00.0, e1:00.0 on socket 1), each behind its own root
   port as the `topo -m` matrix says (GPU0-GPU1 NODE). Two ConnectX-7 dual-port cards
   (15b3:1021, Ethernet 0x020000; `mlx5_0..3`, the two ports of a card PIX to each other,
   NODE to the GPUs of their socket): bus ids 21:00.0/.1 and a1:00.0/.1 are stand-ins. Also
   an ASPEED BMC VGA (1a03:2000, class 0x030000, behind the AST bridge 1a03:1150) that must
   not count as a GPU, and an NVMe drive (class 0x010802) that is not a device topoplace counts.
2. `snc2-2s`: 2x Intel Xeon Gold 6230 (20 cores / 40 threads each, 80 CPUs, Linux numbering:
   CPU i and i+40 are SMT siblings, cores 0-19 on package 0) with Sub-NUMA Clustering 2: 4 NUMA
   nodes of 10 cores each, distances 10 local / 11 other SNC node of the same socket / 21
   remote, like hwloc's `memorysidecaches` test machine. Skylake-SP core ids are sparse
   (0-4, 8-12, 16-20, 24-28 per package). L3 27.5 MiB per package (Intel ark). One Intel X722
   NIC (8086:37d2) on node 0 named `eno1`, and one NIC whose `numa_node` is -1 (`eno2`).
3. `offline-4s`: 4 sockets x 2 cores x 2 threads (16 possible/present CPUs) with 7 online,
   like hwloc's `16em64t-4s2c2t-offlines`: core k (0-7) is core_id k%2 of package k//2 and
   holds CPUs k and k+8. Online: 0,1,2,4,6,8,14. Offline CPUs have no `topology` directory,
   as on Linux. No `/sys/devices/system/node` (a kernel without NUMA): topoplace must make one
   node 0 covering all CPUs. No PCI devices.
"""

import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def cpulist(ids):
    ids = sorted(set(ids))
    out, i = [], 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        out.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(out)


class Tree:
    def __init__(self, name):
        self.root = os.path.join(HERE, name)
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)

    def write(self, path, text):
        full = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="ascii", newline="\n") as f:
            f.write(text + "\n")

    def link(self, path, target):
        full = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        os.symlink(target, full)


def write_cpus(t, possible, online, cores, l3=None, l2_per_core=None):
    """cores: list of (package, die, core_id, [cpus]); offline CPUs get no topology dir."""
    base = "/sys/devices/system/cpu"
    t.write(f"{base}/possible", cpulist(possible))
    t.write(f"{base}/present", cpulist(possible))
    t.write(f"{base}/online", cpulist(online))
    t.write(f"{base}/offline", cpulist(set(possible) - set(online)))
    place = {}
    for pkg, die, core_id, cpus in cores:
        for c in cpus:
            place[c] = (pkg, die, core_id, cpus)
    for c in possible:
        d = f"{base}/cpu{c}"
        if c != 0:
            t.write(f"{d}/online", "1" if c in online else "0")
        if c not in online:
            continue
        pkg, die, core_id, siblings = place[c]
        pkg_cpus = [x for x, p in place.items() if p[0] == pkg]
        t.write(f"{d}/topology/physical_package_id", str(pkg))
        t.write(f"{d}/topology/die_id", str(die))
        t.write(f"{d}/topology/core_id", str(core_id))
        t.write(f"{d}/topology/core_cpus_list", cpulist(siblings))
        t.write(f"{d}/topology/thread_siblings_list", cpulist(siblings))
        t.write(f"{d}/topology/package_cpus_list", cpulist(pkg_cpus))
        if l2_per_core:
            t.write(f"{d}/cache/index2/level", "2")
            t.write(f"{d}/cache/index2/type", "Unified")
            t.write(f"{d}/cache/index2/shared_cpu_list", cpulist(siblings))
            t.write(f"{d}/cache/index2/size", l2_per_core)
        if l3:
            size, groups = l3
            group = next(g for g in groups if c in g)
            t.write(f"{d}/cache/index3/level", "3")
            t.write(f"{d}/cache/index3/type", "Unified")
            t.write(f"{d}/cache/index3/shared_cpu_list", cpulist(group))
            t.write(f"{d}/cache/index3/size", size)


def write_nodes(t, nodes, distances):
    """nodes: list of (os, cpus, MiB)."""
    base = "/sys/devices/system/node"
    ids = [n[0] for n in nodes]
    t.write(f"{base}/possible", cpulist(ids))
    t.write(f"{base}/online", cpulist(ids))
    t.write(f"{base}/has_cpu", cpulist([n[0] for n in nodes if n[1]]))
    for (os_, cpus, mib), row in zip(nodes, distances, strict=True):
        d = f"{base}/node{os_}"
        t.write(f"{d}/cpulist", cpulist(cpus))
        kb = mib * 1024
        t.write(
            f"{d}/meminfo",
            f"Node {os_} MemTotal:       {kb} kB\nNode {os_} MemFree:        {kb // 2} kB",
        )
        t.write(f"{d}/distance", " ".join(str(x) for x in row))


def write_pci(t, chain, cls, vendor, device, numa, local, net=(), ib=()):
    """chain: host bridge root bus ('0000:00') then bdfs down to the function."""
    root, bdfs = chain[0], chain[1:]
    dev_path = "/sys/devices/pci" + root + "".join("/" + b for b in bdfs)
    fn = bdfs[-1]
    t.write(f"{dev_path}/class", f"0x{cls:06x}")
    t.write(f"{dev_path}/vendor", f"0x{vendor:04x}")
    t.write(f"{dev_path}/device", f"0x{device:04x}")
    t.write(f"{dev_path}/numa_node", str(numa))
    t.write(f"{dev_path}/local_cpulist", cpulist(local))
    t.link(f"/sys/bus/pci/devices/{fn}", "../../.." + dev_path[len("/sys") :])
    for kind, names in (("net", net), ("infiniband", ib)):
        for name in names:
            d = f"{dev_path}/{kind}/{name}"
            t.write(f"{d}/uevent", f"INTERFACE={name}" if kind == "net" else f"NAME={name}")
            t.link(f"{d}/device", "../../../" + fn)
            t.link(f"/sys/class/{kind}/{name}", "../../devices" + d[len("/sys/devices") :])


def gpu_2s():
    t = Tree("gpu-2s-4gpu-2nic")
    cpus = list(range(64))
    cores = [(c // 32, 0, c % 32, [c]) for c in cpus]
    ccds = [list(range(i, i + 4)) for i in range(0, 64, 4)]
    write_cpus(t, cpus, cpus, cores, l3=("32768K", ccds), l2_per_core="1024K")
    write_nodes(t, [(0, range(0, 32), 193129), (1, range(32, 64), 193477)], [[10, 32], [32, 10]])
    s0, s1 = list(range(32)), list(range(32, 64))
    bridge = 0x060400
    # root ports (AMD 1022:14ab) with the GPUs behind them
    for root, port, gpu, numa, local in (
        ("0000:00", "0000:00:01.1", "0000:01:00.0", 0, s0),
        ("0000:40", "0000:40:01.1", "0000:41:00.0", 0, s0),
        ("0000:c0", "0000:c0:01.1", "0000:c1:00.0", 1, s1),
        ("0000:e0", "0000:e0:01.1", "0000:e1:00.0", 1, s1),
    ):
        write_pci(t, [root, port], bridge, 0x1022, 0x14AB, numa, local)
        write_pci(t, [root, port, gpu], 0x030000, 0x10DE, 0x26B1, numa, local)
    nic_n = 0
    for root, port, bus, numa, local in (
        ("0000:20", "0000:20:01.1", "0000:21:00", 0, s0),
        ("0000:a0", "0000:a0:01.1", "0000:a1:00", 1, s1),
    ):
        write_pci(t, [root, port], bridge, 0x1022, 0x14AB, numa, local)
        for f in (0, 1):
            fn = f"{bus}.{f}"
            write_pci(
                t,
                [root, port, fn],
                0x020000,
                0x15B3,
                0x1021,
                numa,
                local,
                net=[f"ens{int(bus[5:7], 16)}f{f}np{f}"],
                ib=[f"mlx5_{nic_n}"],
            )
            nic_n += 1
    # BMC VGA behind the ASPEED bridge, and an NVMe drive: neither is a GPU or NIC
    write_pci(t, ["0000:c0", "0000:c0:05.2"], bridge, 0x1022, 0x14AA, 1, s1)
    write_pci(t, ["0000:c0", "0000:c0:05.2", "0000:c2:00.0"], bridge, 0x1A03, 0x1150, 1, s1)
    write_pci(
        t,
        ["0000:c0", "0000:c0:05.2", "0000:c2:00.0", "0000:c3:00.0"],
        0x030000,
        0x1A03,
        0x2000,
        1,
        s1,
    )
    write_pci(t, ["0000:40", "0000:40:03.1"], bridge, 0x1022, 0x14AB, 0, s0)
    write_pci(t, ["0000:40", "0000:40:03.1", "0000:42:00.0"], 0x010802, 0x144D, 0xA80A, 0, s0)


def snc2():
    t = Tree("snc2-2s")
    sparse = [0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 16, 17, 18, 19, 20, 24, 25, 26, 27, 28]
    cores = []
    for k in range(40):
        cores.append((k // 20, 0, sparse[k % 20], [k, k + 40]))
    cpus = list(range(80))
    l3 = (
        "28160K",
        [list(range(0, 20)) + list(range(40, 60)), list(range(20, 40)) + list(range(60, 80))],
    )
    write_cpus(t, cpus, cpus, cores, l3=l3)
    nodes = []
    for n in range(4):
        lo = n * 10
        nodes.append((n, list(range(lo, lo + 10)) + list(range(lo + 40, lo + 50)), 96 * 1024))
    dist = [[10 if i == j else 11 if i // 2 == j // 2 else 21 for j in range(4)] for i in range(4)]
    write_nodes(t, nodes, dist)
    write_pci(t, ["0000:00", "0000:00:1c.0"], 0x060400, 0x8086, 0xA190, 0, nodes[0][1])
    write_pci(
        t,
        ["0000:00", "0000:00:1c.0", "0000:3d:00.0"],
        0x020000,
        0x8086,
        0x37D2,
        0,
        nodes[0][1],
        net=["eno1"],
    )
    write_pci(
        t,
        ["0000:00", "0000:00:1c.0", "0000:3d:00.1"],
        0x020000,
        0x8086,
        0x37D2,
        -1,
        [],
        net=["eno2"],
    )


def offline4s():
    t = Tree("offline-4s")
    cores = [(k // 2, 0, k % 2, [k, k + 8]) for k in range(8)]
    write_cpus(t, list(range(16)), [0, 1, 2, 4, 6, 8, 14], cores)


if __name__ == "__main__":
    gpu_2s()
    snc2()
    offline4s()
