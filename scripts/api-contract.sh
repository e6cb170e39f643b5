#!/usr/bin/env bash
# The API's contract: schemathesis (PyPI, pinned in scripts/schemathesis/requirements.txt)
# runs every check against a live server on a fresh SQLite database, with a token of every
# scope and a change to work on. It fails on any answer the OpenAPI document does not
# describe, and on any request the document allows that the server refuses.
# Two runs: deterministic generation (the same requests every time, so a change that breaks
# them is seen at once; schemathesis uses no seed then), then a fresh seed (new requests
# every time, so the contract holds for any seed, not the one it was tuned to). The seed is
# printed; PREMORTEM_CONTRACT_SEED=<seed> scripts/api-contract.sh replays that run alone.
# PREMORTEM_CONTRACT_EXAMPLES (default 30 per operation) searches deeper.
set -euo pipefail
cd "$(dirname "$0")/.."

fresh_seed=${PREMORTEM_CONTRACT_SEED:-$(python3 -c 'import secrets; print(secrets.randbelow(10**9))')}

venv=${TARGET_DIR:-target}/schemathesis
scripts/python-venv.sh scripts/schemathesis/requirements.txt "$venv"

bin=${PREMORTEM_BIN:-${TARGET_DIR:-target}/release/premortem}
work=$(mktemp -d)
server=
trap '[ -z "$server" ] || { kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; }; rm -rf "$work"' EXIT

# One run on a fresh database and server: `contract fixed` (the deterministic requests) or
# `contract <seed>` (random generation from that seed).
contract() {
  local seed=$1 db="$work/$1" generation
  if [ "$seed" = fixed ]; then
    generation=(--generation-deterministic)
  else
    generation=(--seed "$seed")
  fi
  mkdir -p "$db"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # A budget no run spends: a 429 is an accepted answer, and each one is a request that
  # tested nothing past the rate limit (which the integration tests cover).
  export PREMORTEM_DATABASE_URL="sqlite://$db/contract.db" PREMORTEM_LISTEN="127.0.0.1:$port" RUST_LOG=warn \
    PREMORTEM_TOKEN_RATE_PER_MINUTE=1000000
  "$bin" team create --slug PAY --name Payments >/dev/null
  local token
  token=$("$bin" token create --team PAY --name contract \
    --scope evidence:write --scope changes:read --scope changes:write --scope webhooks:manage \
    --scope incidents:write)
  "$bin" serve >"$db/server.log" 2>&1 &
  server=$!
  local base="http://$PREMORTEM_LISTEN"
  for _ in $(seq 1 100); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS -X POST "$base/api/v1/changes" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"team": "PAY", "title": "Exam queue", "types": ["queue"]}' >/dev/null

  echo "--- schemathesis, seed $seed ---"
  local status=0
  # The stateful phase has nothing to chain (no links between operations) and is left out.
  "$venv/bin/st" --config-file scripts/schemathesis/schemathesis.toml run "$base/api/v1/openapi.json" \
    --checks all --phases examples,coverage,fuzzing "${generation[@]}" \
    --max-examples "${PREMORTEM_CONTRACT_EXAMPLES:-30}" --workers 1 -H "Authorization: Bearer $token" || status=$?
  kill $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  server=
  if [ "$status" -ne 0 ]; then
    echo "--- server log ---"; tail -n 30 "$db/server.log"
    echo "The contract failed with seed $seed; replay it with PREMORTEM_CONTRACT_SEED=$seed $0" >&2
    return 1
  fi
}

if [ -n "${PREMORTEM_CONTRACT_SEED:-}" ]; then
  contract "$fresh_seed"
else
  echo "Fresh seed: $fresh_seed (replay with PREMORTEM_CONTRACT_SEED=$fresh_seed $0)"
  contract fixed
  contract "$fresh_seed"
fi
