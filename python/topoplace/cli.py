"""The ``topoplace`` command: a thin shell over the library.

Subcommands: ``show`` (a topology as text or JSON), ``place`` (one request on one machine),
``conformance`` (run a vector suite), ``dra`` (allocate DRA claims on a node), ``gang`` (a
gang on a cluster, all or nothing), ``replay`` (the FGD paper's trace replay: one run, or a
sweep over workloads, policies and seeds, with CSVs and a plot) and ``demo``
(the main job on built-in machines and a bundled real one).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from topoplace._core import __version__
from topoplace._format import format_allocation
from topoplace.demo import run_demo
from topoplace.errors import TopoplaceError
from topoplace.sources import load

__all__ = ["main"]


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


def _demo(_args: argparse.Namespace) -> int:
    run_demo(sys.stdout)
    return 0


#: Exit status of ``topoplace place`` when the request does not fit (an answer, not an error).
EXIT_REFUSED = 3


def _dra(args: argparse.Namespace) -> int:
    from topoplace import dra

    slices = [obj for path in args.slices for obj in dra.load_objects(path)]
    node = args.node
    if node is None:
        # One node's slices given: allocate on that node.
        names = {s.get("spec", {}).get("nodeName") for s in slices} - {None}
        node = names.pop() if len(names) == 1 else None
    features = [f for item in args.features for f in item.split(",") if f]
    claims = dra.load_objects(args.claims)
    in_use = [obj for path in args.allocated_claims for obj in dra.load_objects(path)]
    result = dra.allocate(
        slices,
        dra.load_objects(args.classes),
        claims,
        node=node,
        features=features,
        allocated_claims=in_use,
        mode=args.mode,
    )
    if isinstance(result, dra.Unsatisfiable):
        sys.stderr.write(f"topoplace: cannot allocate on {node or '<no node>'}: {result.reason}\n")
        return EXIT_REFUSED
    out = []
    for claim, allocation in zip(claims, result, strict=True):
        meta = claim.get("metadata", {})
        entry = {"name": meta.get("name"), "namespace": meta.get("namespace")}
        out.append({**entry, "status": {"allocation": allocation}})
    yaml = dra.yaml_module()
    fmt = args.format or ("json" if yaml is None else "yaml")
    if fmt == "yaml":
        if yaml is None:
            sys.stderr.write("topoplace: error: --format yaml needs pyyaml\n")
            return 1
        sys.stdout.write(yaml.safe_dump_all(out, sort_keys=False))
    else:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0


def _gang(args: argparse.Namespace) -> int:
    from topoplace.cluster import Cluster, placement_dict
    from topoplace.k8s_topology.files import (
        cluster_from_objects,
        gang_from_objects,
        load_objects_or_spec,
    )

    # Each file is either the interchange format or Kubernetes objects (kubectl get -o yaml).
    cluster_in = load_objects_or_spec(args.cluster)
    gang_in = load_objects_or_spec(args.gang)
    objects = cluster_in if isinstance(cluster_in, list) else []
    if isinstance(cluster_in, list):
        cluster_in = cluster_from_objects(cluster_in, source=args.cluster)
    if isinstance(gang_in, list):
        gang_in = gang_from_objects(gang_in, cluster_objects=objects, source=args.gang)
    placement = Cluster(cluster_in).place(gang_in, strategy=args.strategy)
    if args.format == "json":
        sys.stdout.write(json.dumps(placement_dict(placement), indent=2) + "\n")
    elif placement.feasible:
        pods = placement.pods
        sys.stdout.write(f"gang {placement.gang}: {len(pods)} pods placed\n")
        for group, index, node, numa in pods:
            where = node if numa is None else f"{node} (NUMA {numa})"
            sys.stdout.write(f"  {group}[{index}] -> {where}\n")
    else:
        sys.stdout.write(f"gang {placement.gang}: unschedulable\n")
        for reason in placement.reasons:
            sys.stdout.write(f"  {reason}\n")
    return 0 if placement.feasible else EXIT_REFUSED


def _replay(args: argparse.Namespace) -> int:
    import time

    from topoplace import replay as rp
    from topoplace.errors import InvalidValueError

    def names(text: str | None) -> list[str] | None:
        return None if text is None else [n.strip() for n in text.split(",") if n.strip()]

    if args.plot is not None:
        rp.require_plotting()  # before a long sweep, not after it
    start = time.perf_counter()
    if args.sweep:
        if args.traces is None:
            raise InvalidValueError("replay --sweep needs --traces DIR")
        if args.pods is not None or args.policy is not None or args.seed is not None:
            raise InvalidValueError(
                "--pods, --policy and --seed are for one run; a sweep takes --workloads, "
                "--policies and --seeds"
            )
        workloads = rp.find_workloads(args.traces, names(args.workloads), nodes=args.nodes)
        results = rp.sweep(
            workloads,
            names(args.policies),
            rp.parse_seeds(args.seeds or "42-51"),
            processes=args.processes,
            progress=not args.no_progress and sys.stderr.isatty(),
            out=args.out,
        )
    else:
        if args.nodes is None or args.pods is None:
            raise InvalidValueError("replay needs --nodes and --pods (or --sweep --traces DIR)")
        if any(a is not None for a in (args.traces, args.workloads, args.policies, args.seeds)):
            raise InvalidValueError("--traces, --workloads, --policies and --seeds need --sweep")
        trace = rp.load_trace(args.nodes, args.pods)
        results = [rp.replay(trace, args.policy or "fgd", 42 if args.seed is None else args.seed)]
        if args.out is not None:
            rp.write_csvs(results, args.out)
    if args.format == "json":
        docs = [r.to_dict() for r in results]
        doc = docs if args.sweep else docs[0]
        sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")
    else:
        sys.stdout.write(rp.format_table(results))
        wall = time.perf_counter() - start
        sys.stdout.write(f"{len(results)} run(s) in {wall:.1f} s\n")
    if args.plot is not None:
        rp.plot(results, args.plot)
        sys.stderr.write(f"topoplace: wrote {args.plot}\n")
    return 0


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
        gpus=args.gpus,
        gpu_model=args.gpu_model,
        gpu_memory=args.gpu_memory,
        nics=args.nics,
        nics_per_gpu=args.nics_per_gpu,
        align=args.align,
        align_required=args.align_required,
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
            "gpus": [topo.gpus[g].name for g in answer.gpus],
            "nics": [topo.nics[n].name for n in answer.nics],
            "nic_gpus": [None if g is None else topo.gpus[g].name for g in answer.nic_gpus],
            "alignment": answer.alignment,
            "score": answer.score,
        }
        sys.stdout.write(json.dumps(doc) + "\n")
    else:
        if answer.placed:
            sys.stdout.write(f"placed ({args.mode} mode, {args.policy}) on {topo.name}:\n")
        sys.stdout.write("\n".join(format_allocation(topo, answer)) + "\n")
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


def _extender(args: argparse.Namespace) -> int:
    import gc

    from topoplace.extender import ExtenderState, make_server

    host, sep, port = args.listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise TopoplaceError(f"--listen {args.listen!r}: expected HOST:PORT")
    state = ExtenderState.from_dir(args.state, unknown_nodes=args.unknown_nodes)
    # The state lives as long as the process: keep the collector from walking it again.
    gc.collect()
    gc.freeze()
    server = make_server(state, host.strip("[]"), int(port), quiet=not args.verbose)
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    sys.stderr.write(
        f"topoplace extender: {len(state.names)} nodes, {len(state.bound)} bound pods; "
        f"serving on http://{bound_host}:{bound_port} (filter, prioritize, bind)\n"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


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
    place.add_argument("--cpus", type=int, default=0, help="exclusive CPUs")
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
    place.add_argument("--gpus", type=int, default=0, help="whole GPUs")
    place.add_argument("--gpu-model", default=None, help="only GPUs whose model contains this")
    place.add_argument("--gpu-memory", default=None, help="only GPUs with at least this memory")
    place.add_argument("--nics", type=int, default=0, help="NICs (nearest to any chosen GPU)")
    place.add_argument(
        "--nics-per-gpu", type=int, default=0, help="NICs per GPU, each GPU's nearest"
    )
    place.add_argument(
        "--align",
        choices=["pcie-root", "numa", "socket", "none"],
        default="none",
        help="how tightly devices, CPUs and memory sit together (preferred unless required)",
    )
    place.add_argument(
        "--align-required", action="store_true", help="refuse rather than align more loosely"
    )
    place.add_argument("--format", choices=["text", "json"], default="text")
    place.set_defaults(run=_place)
    conf = sub.add_parser("conformance", help="run a conformance vector suite")
    conf.add_argument("suite", choices=["dra", "gpu", "kubelet"])
    conf.add_argument("directory", help="folder holding the suite's vector files")
    conf.add_argument(
        "--strict",
        action="store_true",
        help="gpu: where answers tie, require go-gpuallocator's own choice",
    )
    conf.set_defaults(run=_conformance)
    dra_cmd = sub.add_parser(
        "dra",
        help="allocate DRA ResourceClaims on a node (exit 3 when it cannot allocate)",
    )
    dra_cmd.add_argument(
        "--slices",
        action="append",
        required=True,
        metavar="DIR_OR_FILE",
        help="ResourceSlices: a JSON/YAML file or a folder of them (repeatable)",
    )
    dra_cmd.add_argument("--classes", required=True, help="DeviceClasses (JSON/YAML)")
    dra_cmd.add_argument("--claims", required=True, help="ResourceClaims, allocated together")
    dra_cmd.add_argument(
        "--node", default=None, help="the node (default: the one node the slices name)"
    )
    dra_cmd.add_argument(
        "--features",
        action="append",
        default=[],
        metavar="GATE[,GATE...]",
        help="feature gates on, e.g. DRAPrioritizedList (repeatable)",
    )
    dra_cmd.add_argument(
        "--allocated-claims",
        action="append",
        default=[],
        metavar="DIR_OR_FILE",
        help="ResourceClaims already allocated (their status.allocation is in use; repeatable)",
    )
    dra_cmd.add_argument(
        "--mode",
        choices=["exact", "plain", "pruned", "scored"],
        default="exact",
        help="exact/plain/pruned: the scheduler's answer; scored: the best-aligned one",
    )
    dra_cmd.add_argument(
        "--format",
        choices=["yaml", "json"],
        default=None,
        help="output format (default: yaml when pyyaml is installed, else json)",
    )
    dra_cmd.set_defaults(run=_dra)
    gang = sub.add_parser(
        "gang", help="place a gang on a cluster, all or nothing (exit 3 when it cannot)"
    )
    gang.add_argument(
        "--cluster",
        required=True,
        help="cluster file (JSON/YAML): the interchange format (docs/cluster.md), or Kubernetes "
        "objects: a Kueue Topology or Volcano HyperNodes, Nodes, optional ResourceFlavor and "
        "NodeResourceTopology objects (docs/k8s-topology.md)",
    )
    gang.add_argument(
        "--gang",
        required=True,
        help="gang file (JSON/YAML): the interchange format, or Kubernetes objects: one "
        "Workload, Coscheduling PodGroup or Volcano Job with its Pods/Jobs, or one job with "
        "Kueue TAS annotations",
    )
    gang.add_argument("--format", choices=["text", "json"], default="text")
    gang.add_argument(
        "--strategy",
        choices=["tight", "pack", "balanced"],
        default=None,
        help="domain choice: tight (Kueue TAS best fit, default), pack (least fragmentation), "
        "balanced (spread); overrides the gang file's strategy",
    )
    gang.set_defaults(run=_gang)
    from topoplace._core import POLICIES

    replay = sub.add_parser(
        "replay",
        help="replay a GPU cluster trace under a scheduling policy (the FGD paper's experiment)",
        description="One run: --nodes CSV --pods CSV [--policy NAME] [--seed N]. A sweep: "
        "--sweep --traces DIR over the folder's openb_pod_list_*.csv with its "
        "openb_node_list_gpu_node.csv, every policy, seeds 42-51, unless told otherwise.",
    )
    replay.add_argument("--nodes", default=None, help="node list CSV (sn,cpu_milli,...)")
    replay.add_argument("--pods", default=None, help="pod list CSV (name,cpu_milli,...)")
    replay.add_argument(
        "--policy", choices=POLICIES, default=None, help="one run's policy (default: fgd)"
    )
    replay.add_argument("--seed", type=int, default=None, help="one run's seed (default: 42)")
    replay.add_argument(
        "--sweep", action="store_true", help="every workload x policy x seed of --traces"
    )
    replay.add_argument("--traces", default=None, metavar="DIR", help="the trace folder")
    replay.add_argument(
        "--workloads",
        default=None,
        metavar="A,B,...",
        help="workloads of the folder, e.g. default,cpu050 (default: all)",
    )
    replay.add_argument(
        "--policies",
        default=None,
        metavar="A,B,...",
        help=f"policies (default: all: {','.join(POLICIES)})",
    )
    replay.add_argument(
        "--seeds", default=None, help="seeds: N, N-M or a comma list (default: 42-51)"
    )
    replay.add_argument("--processes", type=int, default=2, help="worker processes")
    replay.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write analysis_allo_discrete.csv and analysis_frag_discrete.csv here",
    )
    replay.add_argument(
        "--plot", default=None, metavar="FILE", help="draw allocation vs arrived (needs [plot])"
    )
    replay.add_argument("--format", choices=["text", "json"], default="text")
    replay.add_argument(
        "--no-progress", action="store_true", help="no progress bar (shown on a terminal)"
    )
    replay.set_defaults(run=_replay)
    demo = sub.add_parser(
        "demo", help="show built-in machines, a bundled real one, and joint GPU placements"
    )
    demo.set_defaults(run=_demo)
    extender = sub.add_parser(
        "extender",
        help="serve the kube-scheduler HTTP extender (filter, prioritize, bind)",
        description="Refuses nodes where a pod would not be NUMA-aligned under the node's "
        "Topology Manager policy and scores nodes by alignment and fit, from the Node and "
        "NodeResourceTopology objects of --state (docs/extender.md).",
    )
    extender.add_argument(
        "--listen", default="127.0.0.1:8888", metavar="HOST:PORT", help="address to serve on"
    )
    extender.add_argument(
        "--state",
        required=True,
        metavar="DIR",
        help="Node and NodeResourceTopology files (YAML/JSON); bound pods go to DIR/bound.jsonl",
    )
    extender.add_argument(
        "--unknown-nodes",
        choices=["pass", "fail"],
        default="pass",
        help="the filter answer for a node the state does not know (default: pass)",
    )
    extender.add_argument("--verbose", action="store_true", help="log every request")
    extender.set_defaults(run=_extender)
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
