"""Conformance suites: the test vectors transcribed from upstream projects, run against
topoplace's compatible modes. ``topoplace conformance SUITE DIR`` is the command-line face."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from topoplace._core import run_conformance
from topoplace.errors import TopoplaceError

if TYPE_CHECKING:
    from topoplace._typing import ConformanceCase

__all__ = ["SUITE_FILES", "run"]

#: The vector files each suite reads from its directory.
SUITE_FILES: dict[str, tuple[str, ...]] = {
    "dra": ("cases.json",),
    "gpu": ("topologies.json", "cases.json", "static_tables.json"),
    "kubelet": (
        "topologies.json",
        "cpu_assignment.json",
        "cpu_accumulator.json",
        "topology_manager.json",
    ),
}


def run(
    suite: str, directory: str | os.PathLike[str], *, strict: bool = False
) -> list[ConformanceCase]:
    """Runs every case of ``suite``'s vector files found in ``directory``. ``strict`` (GPU suite)
    requires go-gpuallocator's own answer where several answers are equally good.

    Raises:
        TopoplaceError: the suite is unknown, or the directory holds none of its files.
    """
    if suite not in SUITE_FILES:
        raise TopoplaceError(f"unknown suite {suite!r}; known: {', '.join(sorted(SUITE_FILES))}")
    folder = Path(directory)
    files = [
        (name, (folder / name).read_text(encoding="utf-8"))
        for name in SUITE_FILES[suite]
        if (folder / name).is_file()
    ]
    if not files:
        raise TopoplaceError(
            f"{folder}: none of the {suite} vector files ({', '.join(SUITE_FILES[suite])})"
        )
    return run_conformance(suite, files, strict=strict)
