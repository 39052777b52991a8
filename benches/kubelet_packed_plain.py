"""The kubelet CPU Manager's packed CPU pick (`takeByTopologyNUMAPacked` in Kubernetes'
`pkg/kubelet/cm/cpumanager/cpu_assignment.go`), without the uncore-cache and spread options,
written the way a Python controller author would: plain dicts, sets and `sorted(key=...)`.

It is the "plain Python" peer of topoplace's kubelet mode in `test_bench_allocator.py`;
`test_plain_python_agrees.py` checks it against the shared kubelet conformance vectors.

`cpu_details` maps every logical CPU of the machine to `(core, socket, numa)`. Like the kubelet,
the "CPUs per socket" and "CPUs per core" used to decide whether a socket or core is wholly free
come from the machine's summary counts (`num_cpus / num_sockets`, `num_cpus / num_cores`), which
default to what `cpu_details` implies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

CpuDetails = Mapping[int, tuple[int, int, int]]

CORE, SOCKET, NUMA = 0, 1, 2


class NotEnoughCpus(ValueError):
    """The free CPUs cannot cover the request."""


def _group(details: CpuDetails, cpus: Iterable[int], level: int) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for cpu in cpus:
        out.setdefault(details[cpu][level], set()).add(cpu)
    return out


def take_packed(
    cpu_details: CpuDetails,
    free: Iterable[int],
    count: int,
    *,
    num_cpus: int | None = None,
    num_sockets: int | None = None,
    num_cores: int | None = None,
    num_numa_nodes: int | None = None,
) -> set[int]:
    """Pick `count` CPUs out of `free` the way the kubelet's packed picker does."""
    if num_cpus is None:
        num_cpus = len(cpu_details)
    if num_sockets is None:
        num_sockets = len({d[SOCKET] for d in cpu_details.values()})
    if num_cores is None:
        num_cores = len({(d[SOCKET], d[CORE]) for d in cpu_details.values()})
    if num_numa_nodes is None:
        num_numa_nodes = len({d[NUMA] for d in cpu_details.values()})
    cpus_per_socket = num_cpus // num_sockets if num_sockets else 0
    cpus_per_core = num_cpus // num_cores if num_cores else 0

    # Whole-machine sizes, by id (an id shared by two sockets' cores counts once, as upstream).
    all_in_socket = _group(cpu_details, cpu_details, SOCKET)
    all_in_numa = _group(cpu_details, cpu_details, NUMA)
    all_in_core = _group(cpu_details, cpu_details, CORE)

    avail = {cpu for cpu in free if cpu in cpu_details}
    result: set[int] = set()
    needed = count
    if needed < 1:
        return result
    if needed > len(avail):
        raise NotEnoughCpus(
            f"not enough cpus available to satisfy request: requested={count}, "
            f"available={len(avail)}"
        )

    def take(cpus: set[int]) -> None:
        nonlocal needed
        result.update(cpus)
        avail.difference_update(cpus)
        needed -= len(cpus)

    def by_size(groups: dict[int, set[int]], ids: Iterable[int]) -> list[int]:
        return sorted(ids, key=lambda i: (len(groups[i]), i))

    def children(
        parents: list[int], parent_level: int, child_level: int
    ) -> tuple[list[int], dict[int, set[int]]]:
        # The ids of `child_level` under each parent in turn, each batch ordered by how many
        # free CPUs the child holds (fewest first), then id.
        groups = _group(cpu_details, avail, child_level)
        under: dict[int, set[int]] = {}
        for cpu in avail:
            info = cpu_details[cpu]
            under.setdefault(info[parent_level], set()).add(info[child_level])
        out: list[int] = []
        for parent in parents:
            out.extend(by_size(groups, under.get(parent, ())))
        return out, groups

    numa_first = num_sockets >= num_numa_nodes

    def sorted_sockets() -> list[int]:
        if numa_first:
            return children(sorted_numas(), NUMA, SOCKET)[0]
        groups = _group(cpu_details, avail, SOCKET)
        return by_size(groups, groups)

    def sorted_numas() -> list[int]:
        if not numa_first:
            return children(sorted_sockets(), SOCKET, NUMA)[0]
        groups = _group(cpu_details, avail, NUMA)
        return by_size(groups, groups)

    def sorted_cores() -> list[int]:
        if numa_first:
            return children(sorted_sockets(), SOCKET, CORE)[0]
        return children(sorted_numas(), NUMA, CORE)[0]

    def take_full(
        level: int, order: Callable[[], list[int]], is_free: Callable[[int, int], bool]
    ) -> None:
        everything = {SOCKET: all_in_socket, NUMA: all_in_numa, CORE: all_in_core}[level]
        groups = _group(cpu_details, avail, level)
        for i in [i for i in order() if is_free(i, len(groups.get(i, ())))]:
            whole = everything[i]
            if needed >= len(whole):
                take(whole)

    def take_full_sockets() -> None:
        take_full(SOCKET, sorted_sockets, lambda _i, n: n == cpus_per_socket)

    def take_full_numas() -> None:
        take_full(NUMA, sorted_numas, lambda i, n: n == len(all_in_numa[i]))

    first, second = (
        (take_full_numas, take_full_sockets) if numa_first else (take_full_sockets, take_full_numas)
    )
    for step in (first, second):
        step()
        if needed < 1:
            return result

    take_full(CORE, sorted_cores, lambda _i, n: n == cpus_per_core)
    if needed < 1:
        return result

    in_core = _group(cpu_details, avail, CORE)
    for core in sorted_cores():
        for cpu in sorted(in_core[core]):
            take({cpu})
            if needed < 1:
                return result
    raise NotEnoughCpus("failed to allocate cpus")
