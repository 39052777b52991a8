"""Loading a topology from wherever it is: a file of any supported format, this machine's sysfs,
or a built-in machine. File reading happens here, in Python; parsing happens in the core."""

from __future__ import annotations

import os
from pathlib import Path

from topoplace._core import Topology
from topoplace.errors import TopologyError

__all__ = ["load"]


def load(source: str | os.PathLike[str]) -> Topology:
    """Loads a topology.

    ``source`` is ``"builtin:NAME"`` (see ``Topology.builtin_names()``), ``"sysfs"`` (this
    machine), ``"sysfs:ROOT"`` (a sysfs tree copied below ROOT), or a path to a file in any
    supported format (hwloc XML, topoplace JSON, ``nvidia-smi topo -m``, ``rocm-smi
    --showtopo``), recognised from its content. For a ``NAME.txt`` matrix, a ``NAME.host.txt``
    beside it (``numactl --hardware``, ``lscpu``, ``nvidia-smi`` output) is read too.

    Raises:
        TopologyError: the file is missing, unreadable or malformed.
    """
    text_source = os.fspath(source)
    if text_source.startswith("builtin:"):
        return Topology.builtin(text_source)
    if text_source == "sysfs":
        return Topology.from_sysfs()
    if text_source.startswith("sysfs:"):
        return Topology.from_sysfs(text_source.removeprefix("sysfs:"))
    path = Path(text_source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TopologyError(
            f"{path}: cannot read: {exc.strerror or exc}", str(path), None, None, str(exc)
        ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TopologyError(
            f"{path}: not UTF-8 text (byte {exc.start})", str(path), None, None, str(exc)
        ) from exc
    host: str | None = None
    host_path = path.with_name(path.name.removesuffix(".txt") + ".host.txt")
    if path.suffix == ".txt" and not path.name.endswith(".host.txt") and host_path.is_file():
        host = host_path.read_text(encoding="utf-8")
    return Topology.from_text(text, host=host, source=str(path))
