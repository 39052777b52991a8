"""Converts the shared topology/gang example YAML files into the JSON fixtures beside this file.

Run once by hand when the examples change (needs PyYAML; not used by the tests):

    python tests/data/k8s-topology/convert_yaml.py /path/to/shared/k8s/topology

Each ``<dir>/<name>.yaml`` (one or more ``---`` documents) becomes ``<dir>/<name>.json``: a JSON
list of the objects, exactly as ``yaml.safe_load_all`` reads them (comments are dropped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def main(source: Path) -> None:
    out_root = Path(__file__).resolve().parent
    for path in sorted(source.glob("*/*.yaml")):
        with path.open(encoding="utf-8") as f:
            objects = [doc for doc in yaml.safe_load_all(f) if doc is not None]
        target = out_root / path.parent.name / (path.stem + ".json")
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps(objects, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
