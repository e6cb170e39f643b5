#!/usr/bin/env bash
# The API's contract: schemathesis (PyPI, pinned in scripts/schemathesis/requirements.txt)
# runs every check against a live server on a fresh SQLite database, with a token of every
# scope and a change to work on. It fails on any answer the OpenAPI document does not
# describe, and on any request the document allows that the server refuses. Fixed seed and
# deterministic generation: the same requests every run.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${TARGET_DIR:-target}/schemathesis
if ! cmp -s scripts/schemathesis/requirements.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/schemathesis/requirements.txt
  cp scripts/schemathesis/requirements.txt "$venv/requirements.txt"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PREMORTEM_DATABASE_URL="sqlite://$work/contract.db" PREMORTEM_LISTEN="127.0.0.1:$port" RUST_LOG=warn
bin=${PREMORTEM_BIN:-${TARGET_DIR:-target}/release/premortem}
"$bin" team create --slug PAY --name Payments >/dev/null
token=$("$bin" token create --team PAY --name contract \
  --scope evidence:write --scope changes:read --scope changes:write)
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://$PREMORTEM_LISTEN"
for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS -X POST "$base/api/v1/changes" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"team": "PAY", "title": "Exam queue", "types": ["queue"]}' >/dev/null

# The stateful phase has nothing to chain (no links between operations) and is left out.
if ! "$venv/bin/st" --config-file scripts/schemathesis/schemathesis.toml run "$base/api/v1/openapi.json" \
  --checks all --phases examples,coverage,fuzzing --seed 20261203 --generation-deterministic \
  --max-examples 30 --workers 1 -H "Authorization: Bearer $token"; then
  echo "--- server log ---"; tail -n 30 "$work/server.log"
  exit 1
fi
