"""Text for people: how the command line and the demo print an allocation."""

from __future__ import annotations

from topoplace._core import Allocation, Topology

__all__ = ["format_allocation", "human_bytes"]


def human_bytes(n: int) -> str:
    """``137438953472`` -> ``"128 GiB"`` (binary units, at most one decimal)."""
    value = float(n)
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"]:
        if value < 1024 or unit == "TiB":
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


def format_allocation(topo: Topology, answer: Allocation) -> list[str]:
    """The lines describing a placed or refused allocation (no trailing newlines)."""
    if not answer.placed:
        return [f"refused ({answer.refusal_kind}): {answer.reason}"]
    lines = []
    gpus, nics = topo.gpus, topo.nics
    if answer.gpus or answer.nics:
        for g in answer.gpus:
            mine = [
                nics[n].name
                + f" ({topo.pcie_class(gpus[g].index, nics[n].index) or 'unknown path'})"
                for n, owner in zip(answer.nics, answer.nic_gpus, strict=True)
                if owner == g
            ]
            with_nics = f" with {', '.join(mine)}" if mine else ""
            lines.append(f"  GPU {gpus[g].name} (NUMA {gpus[g].numa_node}){with_nics}")
        for n, owner in zip(answer.nics, answer.nic_gpus, strict=True):
            if owner is None or owner not in answer.gpus:
                lines.append(f"  NIC {nics[n].name} (NUMA {nics[n].numa_node})")
    nodes = ",".join(str(n) for n in answer.numa_nodes) or "-"
    if len(answer.cpus):
        lines.append(f"  CPUs {answer.cpus} ({len(answer.cpus)}) on NUMA node(s) {nodes}")
    if answer.memory:
        memory = ", ".join(f"node {n}: {human_bytes(b)}" for n, b in answer.memory.items())
        lines.append(f"  memory {memory}")
    score = answer.score
    if score is not None:
        lines.append(
            f"  score {score['total']} = GPU links {score['gpu_links']}"
            f" + NIC paths {score['nic_paths']} - NUMA distance {score['numa_distance']}"
            f" - fragmentation {score['fragmentation']}"
        )
        quality = "as requested" if answer.preferred else "looser than requested"
        lines.append(f"  alignment {answer.alignment} ({quality})")
    return lines
