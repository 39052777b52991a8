"""Bad input gives a TopologyError that names the source and the place, never a crash."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topoplace import Topology, TopologyError, TopoplaceError, load

DATA = Path(__file__).parent / "data"
SMALL_FILES = [
    DATA / "hwloc" / "2i386-2c-nohugepage.xml",
    DATA / "hwloc" / "16em64t-4s2c2t-offlines.xml",
    DATA / "hwloc" / "48amd64-4pa2n6c-sparse.v1.xml",
    DATA / "hwloc" / "nvidiagpunumanodes-kept.xml",
    DATA / "nvidia-smi" / "dgx-a100-12nic-nps4.txt",
    DATA / "nvidia-smi" / "hgx-8x-h100-sxm-xeon8480-11nic.txt",
    DATA / "nvidia-smi" / "amd-8x-mi308x-xgmi.txt",
]


def test_error_hierarchy_and_pickle() -> None:
    err = TopologyError("f.xml:3: object: bad", "f.xml", 3, "object", "bad")
    assert isinstance(err, TopoplaceError) and isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.source, again.line, again.object, again.reason) == ("f.xml", 3, "object", "bad")


def test_missing_file() -> None:
    with pytest.raises(TopologyError, match="cannot read"):
        load("/nonexistent/machine.xml")


def test_unknown_format() -> None:
    with pytest.raises(TopologyError, match="unrecognised topology format"):
        Topology.from_text("hello world", source="x.txt")


def _json_with(mutate: object) -> str:
    import json

    doc = json.loads(Topology.builtin("dgx-h100").to_json())
    assert callable(mutate)
    mutate(doc)
    return json.dumps(doc)


def test_json_cpu_listed_twice() -> None:
    text = _json_with(lambda d: d["cpus"].append(dict(d["cpus"][0])))
    with pytest.raises(TopologyError, match="listed twice") as info:
        Topology.from_json(text, source="twice.json")
    assert info.value.source == "twice.json" and info.value.object == "cpu 0"


def test_json_device_on_missing_numa() -> None:
    text = _json_with(lambda d: d["devices"][0].update(numa=7))
    with pytest.raises(TopologyError, match="NUMA node 7 does not exist") as info:
        Topology.from_json(text)
    assert info.value.object is not None and "GPU0" in info.value.object


def test_json_core_in_two_packages() -> None:
    def move(doc: dict[str, list[dict[str, object]]]) -> None:
        doc["cpus"][112]["core"] = 60  # CPU 112 (package 0) joins core 60 (package 1)

    with pytest.raises(TopologyError, match="two packages"):
        Topology.from_json(_json_with(move))


def test_json_asymmetric_and_non_square_matrix() -> None:
    def asym(doc: dict[str, dict[str, list[int]]]) -> None:
        doc["distances"]["values"][1] = 30

    with pytest.raises(TopologyError, match="asymmetric"):
        Topology.from_json(_json_with(asym))

    def short(doc: dict[str, dict[str, list[int]]]) -> None:
        doc["distances"]["values"].pop()

    with pytest.raises(TopologyError, match="not square"):
        Topology.from_json(_json_with(short))


def test_json_syntax_error_has_line() -> None:
    with pytest.raises(TopologyError) as info:
        Topology.from_json('{\n"cpus": [\n}', source="broken.json")
    assert info.value.line == 3


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, str]:
    path = draw(st.sampled_from(SMALL_FILES))
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    how = draw(st.sampled_from(["truncate", "drop", "dup", "garble", "swap-digit"]))
    if how == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif how == "drop" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        text = "".join(lines[:i] + lines[i + 1 :])
    elif how == "dup" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        text = "".join(lines[: i + 1] + lines[i:])
    elif how == "garble" and text:
        i = draw(st.integers(0, len(text) - 1))
        junk = draw(st.text(alphabet='<>/="x-1 \n\t9', min_size=1, max_size=6))
        text = text[:i] + junk + text[i + len(junk) :]
    elif text:
        digits = [i for i, ch in enumerate(text) if ch.isdigit()]
        if digits:
            i = draw(st.sampled_from(digits))
            text = text[:i] + draw(st.sampled_from("0123456789")) + text[i + 1 :]
    return path.name, text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted())
def test_corrupted_real_files_give_topology_or_error(case: tuple[str, str]) -> None:
    name, text = case
    try:
        topo = Topology.from_text(text, source=name)
    except TopologyError as exc:
        assert exc.source == name
        assert str(exc)
    else:
        assert isinstance(topo, Topology)
        # Whatever was accepted is a consistent model: it round-trips.
        assert Topology.from_json(topo.to_json()) == topo


def test_object_error_shape() -> None:
    # Raised by the DRA object readers; the class is public and survives pickling.
    import pickle

    from topoplace import ObjectError, TopoplaceError

    err = ObjectError(
        "ResourceClaim default/c: spec.devices.requests[0].exactly.count: must be at least 1",
        "ResourceClaim default/c",
        "spec.devices.requests[0].exactly.count",
        "must be at least 1",
    )
    assert isinstance(err, TopoplaceError) and isinstance(err, ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert (back.object, back.path, back.reason) == (err.object, err.path, err.reason)
