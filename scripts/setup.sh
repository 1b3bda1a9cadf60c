#!/usr/bin/env bash
# Create .venv (once) and install simspine-dataset into it with the extras named in $EXTRAS.
# Needs only Python >= 3.11 with pip; everything else comes from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "simspine-dataset needs Python >= 3.11, found " + sys.version.split()[0])'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${EXTRAS:-dev}]"
