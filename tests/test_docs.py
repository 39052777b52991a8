"""The getting-started tour runs: every ```python block of docs/getting-started.md, top to
bottom, in one namespace. (The site itself is built by scripts/docs_build.sh, not here.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TOUR = Path(__file__).resolve().parent.parent / "docs" / "getting-started.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text, each with the line its code starts on."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_tour_has_blocks() -> None:
    assert len(python_blocks(TOUR.read_text(encoding="utf-8"))) >= 6


def test_tour_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "getting_started"}
    for line, code in python_blocks(TOUR.read_text(encoding="utf-8")):
        # Pad so tracebacks point at the line in the Markdown file.
        source = "\n" * (line - 1) + code
        exec(compile(source, str(TOUR), "exec"), namespace)
    out = capsys.readouterr().out
    assert "no single NUMA node has 40 free CPUs" in out
    assert "best rack r0 fits 3 of 5 pods" in out
