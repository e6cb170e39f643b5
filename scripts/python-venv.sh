#!/usr/bin/env bash
# A Python virtual environment at DIR with REQUIREMENTS installed (pinned PyPI packages),
# made again only when the pins change:  scripts/python-venv.sh REQUIREMENTS DIR
set -euo pipefail
requirements=$1 venv=$2
if ! cmp -s "$requirements" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi
