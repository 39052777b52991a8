"""The ``topoplace`` command: a thin shell over the library.

Subcommands: ``show`` (a topology as text or JSON), ``place`` (one request on one machine),
``conformance`` (run a vector suite) and ``demo`` (the main job on built-in
machines and a bundled real one).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from topoplace._core import Topology, __version__
from topoplace.errors import TopoplaceError
from topoplace.sources import load

__all__ = ["main"]

DEMO_XML = "32em64t-2n8c2t-pci-normalio.xml"


def _show(args: argparse.Namespace) -> int:
    topo = load(args.source)
    if args.format == "json":
        head = {"name": topo.name, "source": topo.source, **topo.summary()}
        if args.indent:
            head["topology"] = json.loads(topo.to_json())
            sys.stdout.write(json.dumps(head, indent=2) + "\n")
        else:
            # The model is already JSON: splice it in rather than parse and re-serialise it.
            sys.stdout.write(json.dumps(head)[:-1] + ', "topology": ' + topo.to_json() + "}\n")
    else:
        sys.stdout.write(topo.render_text())
    return 0


def _device_links(topo: Topology) -> list[str]:
    lines = []
    for gpu in topo.gpus:
        best = None
        for nic in topo.nics:
            cls = topo.link_class(gpu.index, nic.index)
            if cls is not None and (best is None or _rank(cls) < _rank(best[1])):
                best = (nic.name, cls)
        if best is not None:
            lines.append(f"    {gpu.name}: nearest NIC {best[0]} ({best[1]})")
    return lines


def _rank(link_class: str) -> int:
    order = ["NVSWITCH", "NV", "XGMI", "PIX", "PXB", "PHB", "NODE", "SYS"]
    return order.index(link_class) if link_class in order else len(order)


def _demo(_args: argparse.Namespace) -> int:
    out = sys.stdout
    out.write(f"topoplace {__version__}: where should this work go?\n\n")
    machines = [Topology.builtin("dgx-h100"), Topology.builtin("epyc-nps4")]
    from importlib import resources

    xml = (
        resources.files("topoplace").joinpath("data").joinpath(DEMO_XML).read_text(encoding="utf-8")
    )
    machines.append(Topology.from_hwloc_xml(xml, source=DEMO_XML))
    for topo in machines:
        out.write(topo.render_text())
        links = _device_links(topo)
        if links:
            out.write("  GPU to NIC paths:\n" + "\n".join(links) + "\n")
        distances = topo.numa_distances
        if distances is not None:
            out.write(f"  NUMA distance matrix:\n{distances}\n")
        out.write("\n")
    return 0


#: Exit status of ``topoplace place`` when the request does not fit (an answer, not an error).
EXIT_REFUSED = 3


def _place(args: argparse.Namespace) -> int:
    from topoplace._core import NodeAllocator, Request

    topo = load(args.topology)
    options: dict[str, str | bool] = {}
    for item in args.cpu_option:
        name, sep, value = item.partition("=")
        options[name] = value if sep else True
    request = Request(
        args.cpus,
        memory=args.memory,
        hugepages_2m=args.hugepages_2m,
        hugepages_1g=args.hugepages_1g,
        policy=args.policy,
        mode=args.mode,
        cpu_options=options,
    )
    alloc = NodeAllocator(topo, reserved_cpus=args.reserved_cpus)
    answer = alloc.check(request)
    if args.format == "json":
        doc = {
            "placed": answer.placed,
            "cpus": str(answer.cpus),
            "numa_nodes": answer.numa_nodes,
            "memory": {str(k): v for k, v in answer.memory.items()},
            "preferred": answer.preferred,
            "reason": answer.reason,
            "refusal_kind": answer.refusal_kind,
        }
        sys.stdout.write(json.dumps(doc) + "\n")
    elif answer.placed:
        nodes = ",".join(str(n) for n in answer.numa_nodes) or "-"
        memory = ", ".join(f"node {n}: {b} bytes" for n, b in answer.memory.items()) or "none"
        quality = "preferred" if answer.preferred else "not preferred"
        sys.stdout.write(
            f"placed ({args.mode} mode, {args.policy}): CPUs {answer.cpus}\n"
            f"  NUMA nodes {nodes} ({quality} alignment); memory {memory}\n"
        )
    else:
        sys.stdout.write(f"refused ({answer.refusal_kind}): {answer.reason}\n")
    return 0 if answer.placed else EXIT_REFUSED


def _conformance(args: argparse.Namespace) -> int:
    from topoplace import conformance

    cases = conformance.run(args.suite, args.directory, strict=args.strict)
    failed = [c for c in cases if not c["passed"]]
    for case in failed:
        sys.stdout.write(f"FAIL {case['id']} ({case['file']}: {case['name']}): {case['detail']}\n")
    sys.stdout.write(f"{len(cases) - len(failed)} passed, {len(failed)} failed\n")
    # No case run is a failure too: a suite that silently checks nothing proves nothing.
    return 1 if failed or not cases else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="topoplace", description="Topology-aware placement of CPUs, memory, GPUs and NICs."
    )
    parser.add_argument("--version", action="version", version=f"topoplace {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="show a machine's topology")
    show.add_argument(
        "source",
        help="a file (hwloc XML, topoplace JSON, nvidia-smi or rocm-smi text), "
        "'sysfs' or 'builtin:NAME'",
    )
    show.add_argument("--format", choices=["text", "json"], default="text")
    show.add_argument("--indent", action="store_true", help="indent JSON output")
    show.set_defaults(run=_show)
    place = sub.add_parser(
        "place",
        help="place one request on one machine (exit 3 when it does not fit)",
    )
    place.add_argument("--topology", required=True, help="a file, 'sysfs' or 'builtin:NAME'")
    place.add_argument("--cpus", type=int, required=True, help="exclusive CPUs")
    place.add_argument("--memory", default="0", help="bytes or a quantity such as 64Gi")
    place.add_argument("--hugepages-2m", default="0", help="bytes of 2 MiB hugepages")
    place.add_argument("--hugepages-1g", default="0", help="bytes of 1 GiB hugepages")
    place.add_argument(
        "--policy",
        choices=["none", "best-effort", "restricted", "single-numa-node"],
        default="best-effort",
        help="Topology Manager policy",
    )
    place.add_argument("--mode", choices=["kubelet", "default"], default="default")
    place.add_argument("--reserved-cpus", default=None, help="CPU list never handed out")
    place.add_argument(
        "--cpu-option",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="a kubelet CPU Manager option, e.g. full-pcpus-only (repeatable)",
    )
    place.add_argument("--format", choices=["text", "json"], default="text")
    place.set_defaults(run=_place)
    conf = sub.add_parser("conformance", help="run a conformance vector suite")
    conf.add_argument("suite", choices=["gpu", "kubelet"])
    conf.add_argument("directory", help="folder holding the suite's vector files")
    conf.add_argument(
        "--strict",
        action="store_true",
        help="gpu: where answers tie, require go-gpuallocator's own choice",
    )
    conf.set_defaults(run=_conformance)
    demo = sub.add_parser("demo", help="show built-in machines and a bundled real one")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except TopoplaceError as exc:
        sys.stderr.write(f"topoplace: error: {exc}\n")
        return 1
    except BrokenPipeError:
        return 0
    except OSError as exc:
        sys.stderr.write(f"topoplace: error: {exc}\n")
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
