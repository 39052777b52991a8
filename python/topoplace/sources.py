"""Loading a topology from wherever it is: a file of any supported format, this machine's sysfs,
or a built-in machine. File reading happens here, in Python; parsing happens in the core."""

from __future__ import annotations

import os

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
    # os.path rather than pathlib: pathlib's import alone costs more than parsing most files,
    # and `topoplace show` is often run once per machine from a shell.
    path = text_source
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise TopologyError(
            f"{path}: cannot read: {exc.strerror or exc}", path, None, None, str(exc)
        ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TopologyError(
            f"{path}: not UTF-8 text (byte {exc.start})", path, None, None, str(exc)
        ) from exc
    host: str | None = None
    if path.endswith(".txt") and not path.endswith(".host.txt"):
        host_path = path.removesuffix(".txt") + ".host.txt"
        if os.path.isfile(host_path):
            with open(host_path, encoding="utf-8") as handle:
                host = handle.read()
    return Topology.from_text(text, host=host, source=path)
