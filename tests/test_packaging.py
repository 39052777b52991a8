"""Packaging: one version source, the documented extras, typing markers shipped, pinned actions.

The build itself (wheel and sdist, `twine check --strict`, a fresh venv without cargo, import
time) is checked by scripts/package_check.sh; these tests cover what can be read from the tree
and the installed distribution.
"""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import pytest

import topoplace

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - CI runs 3.11
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def _toml(name: str) -> dict[str, Any]:
    with open(ROOT / name, "rb") as f:
        return tomllib.load(f)


def _pep440(cargo_version: str) -> str:
    """Cargo's SemVer as maturin writes it into the wheel ("0.2.0-alpha.1" -> "0.2.0a1")."""
    packaging_version = pytest.importorskip("packaging.version")
    return str(packaging_version.Version(cargo_version))


def _installed_from_wheel() -> bool:
    """False for an editable (maturin develop / pip -e) install, whose RECORD lists no sources."""
    direct_url = metadata.distribution("topoplace").read_text("direct_url.json")
    return not (direct_url and json.loads(direct_url).get("dir_info", {}).get("editable"))


def test_version_has_one_source() -> None:
    cargo_version = _toml("Cargo.toml")["workspace"]["package"]["version"]
    pyproject = _toml("pyproject.toml")["project"]
    assert "version" not in pyproject, "pyproject.toml must not repeat the version"
    assert "version" in pyproject["dynamic"]
    binding = _toml("rust/topoplace-py/Cargo.toml")["package"]
    assert binding["version"] == {"workspace": True}
    assert topoplace.__version__ == _pep440(cargo_version)
    assert metadata.version("topoplace") == topoplace.__version__


def test_extras() -> None:
    extras = _toml("pyproject.toml")["project"]["optional-dependencies"]
    assert {"plot", "k8s", "test", "graph"} <= set(extras)
    names = {re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0] for req in extras["test"]}
    assert {"pytest", "twine"} <= names
    provided = set(metadata.metadata("topoplace").get_all("Provides-Extra") or [])
    assert {"plot", "k8s", "test"} <= provided


def test_metadata_fields() -> None:
    project = _toml("pyproject.toml")["project"]
    assert project["license"].startswith("Apache-2.0")
    for path in project["license-files"]:
        assert (ROOT / path).is_file(), path
    # A PEP 639 license expression rules out "License ::" classifiers.
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    assert "Typing :: Typed" in project["classifiers"]
    assert {"Source", "Changelog"} <= set(project["urls"])
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_typing_markers_are_shipped() -> None:
    package = resources.files("topoplace")
    assert package.joinpath("py.typed").is_file()
    assert package.joinpath("_core.pyi").is_file()
    if _installed_from_wheel():
        record = {str(p) for p in metadata.files("topoplace") or []}
        assert {"topoplace/py.typed", "topoplace/_core.pyi"} <= record


def test_release_workflow_pins_actions_by_commit() -> None:
    workflow = ROOT / ".github" / "workflows" / "release.yml"
    uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)", workflow.read_text(encoding="utf-8"), re.M)
    assert uses
    unpinned = [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u)]
    assert not unpinned, f"actions not pinned by commit SHA: {unpinned}"
