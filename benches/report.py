"""Prints the benchmark medians of one CI run side by side: criterion (Rust, in-process) and
pytest-benchmark (through Python), with the ratios the issues set targets for.

Usage: python benches/report.py TARGET_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def criterion_medians(target: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for est in sorted((target / "criterion").glob("**/new/estimates.json")):
        bench = est.parent.parent.relative_to(target / "criterion").as_posix()
        out[bench] = json.loads(est.read_text())["median"]["point_estimate"] / 1e9
    return out


def pytest_medians(target: Path) -> dict[str, float]:
    path = target / "pytest-benchmark.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    return {b["name"]: b["stats"]["median"] for b in doc["benchmarks"]}


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:9.1f} us"


def peers(py: dict[str, float], plain_suffix: str, ours_suffix: str, what: str) -> None:
    """Prints the ratio of each `test_X<plain_suffix>` to its `test_X<ours_suffix>`."""
    for name, plain in sorted(py.items()):
        if name.endswith(plain_suffix):
            ours = py.get(name.removesuffix(plain_suffix) + ours_suffix)
            if ours:
                case = name.removeprefix("test_").removesuffix(plain_suffix)
                print(f"  {what} {case:40s} {plain / ours:8.1f}x")


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "target")
    rust = criterion_medians(target)
    py = pytest_medians(target)
    print("\nmedians (one run, 2 shared cores: compare ratios, not absolutes)")
    for name, value in sorted(rust.items()):
        print(f"  rust    {name:45s} {fmt(value)}")
    for name, value in sorted(py.items()):
        print(f"  python  {name:45s} {fmt(value)}")
    pairs = [
        ("hwloc_192em64t-24n8c2t", "test_from_hwloc_xml_192em64t", "Python call / Rust parse"),
        ("hwloc_256ppc-8n8s4t", "test_from_hwloc_xml_256ppc", "Python call / Rust parse"),
        (
            "synthetic_1024numa-16384cpu",
            "test_synthetic_1024numa",
            "Python call / Rust build",
        ),
    ]
    print("ratios")
    for rust_name, py_name, what in pairs:
        if rust_name in rust and py_name in py:
            print(f"  {what:28s} {rust_name:30s} {py[py_name] / rust[rust_name]:6.2f}x")
    etree, ours = py.get("test_etree_fromstring_192em64t"), py.get("test_from_hwloc_xml_192em64t")
    if etree and ours:
        print(f"  xml.etree read / topoplace full parse (192em64t) {etree / ours:6.2f}x")
    # Every plain-Python peer `test_X_plain_python` beside its `test_X_topoplace`, and the
    # scheduler's plain DRA search `test_X_plain_search` beside `test_X_exact`.
    peers(py, "_plain_python", "_topoplace", "plain Python / topoplace")
    peers(py, "_plain_search", "_exact", "DRA plain search / exact")
    peers(py, "_numpy", "_topoplace", "numpy / topoplace")
    calls = [
        (name, value)
        for name, value in sorted(py.items())
        if name.startswith(("test_check_", "test_allocate_"))
    ]
    if calls:
        print("allocator per call (half-full machine, 16 CPUs)")
        for name, value in calls:
            if name.startswith("test_allocate_"):
                # One round is allocate + release: two calls; the halving is a mean of the two.
                print(
                    f"  {name:45s} {value / 2 * 1e6:9.2f} us per call"
                    f"  ({value * 1e6:.2f} us for allocate + release)"
                )
            else:
                print(f"  {name:45s} {value * 1e6:9.2f} us per call  (check)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
