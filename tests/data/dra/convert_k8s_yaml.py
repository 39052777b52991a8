"""Converts the shared DRA example YAML files into the JSON fixtures in ``k8s/``.

Run once by hand when the examples change (needs PyYAML; not used by the tests):

    python tests/data/dra/convert_k8s_yaml.py /path/to/shared/k8s/dra

Each ``<name>.yaml`` (one or more ``---`` documents) becomes ``k8s/<name>.json``: a JSON list
of the objects, exactly as ``yaml.safe_load_all`` reads them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def main(source: Path) -> None:
    out_dir = Path(__file__).resolve().parent / "k8s"
    out_dir.mkdir(exist_ok=True)
    for path in sorted(source.glob("*.yaml")):
        with path.open(encoding="utf-8") as f:
            objects = [doc for doc in yaml.safe_load_all(f) if doc is not None]
        target = out_dir / (path.stem + ".json")
        target.write_text(json.dumps(objects, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
