#!/usr/bin/env bash
# The webhook receiver's Python (the integration tests verify deliveries with the Standard
# Webhooks reference library, PyPI `standardwebhooks`, pinned in requirements.txt):
# $TARGET_DIR/webhooks, installed again only when the pins change.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${TARGET_DIR:-target}/webhooks
if ! cmp -s scripts/webhooks/requirements.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/webhooks/requirements.txt
  cp scripts/webhooks/requirements.txt "$venv/requirements.txt"
fi
