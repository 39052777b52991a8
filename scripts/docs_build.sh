#!/usr/bin/env bash
# Builds the documentation site with `mkdocs build --strict` into target/site: a broken link,
# a missing page or an unresolved API reference fails the build. Installs nothing: the venv
# ($VENV, default .venv) needs the docs extra (`pip install '.[docs]'`).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --site-dir target/site
