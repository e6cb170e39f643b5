#!/usr/bin/env bash
# Premortem plans its own failure: the demo data registers Premortem itself as change PM-1,
# whose failure modes select tests of this repository. This uploads the JUnit report of the
# project's own test run (cargo-nextest, `make unit`) to a Premortem started for the
# purpose, exactly as a team's CI would, and fails unless PM-1's gate is open.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${TARGET_DIR:-target}
# nextest writes its report under the workspace root, whatever CARGO_TARGET_DIR says (its
# store directory, set in .config/nextest.toml); cargo's binaries follow CARGO_TARGET_DIR.
report=target/nextest/ci/junit.xml
[[ -f $report ]] || { echo "no $report: run 'make unit' first" >&2; exit 1; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PREMORTEM_DATABASE_URL="sqlite://$work/dogfood.db"
export PREMORTEM_LISTEN="127.0.0.1:$port"
bin=$target_dir/debug/premortem
base="http://$PREMORTEM_LISTEN"

"$bin" demo >/dev/null
token=$("$bin" token create --team PM --name dogfood --scope evidence:write --scope changes:read)
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
echo "dogfood: uploading $(grep -c '<testcase' "$report") test results of commit ${commit:0:12} to PM-1"
curl -sS --fail-with-body -X POST \
  -H "Authorization: Bearer $token" \
  -H "Content-Type: application/xml" \
  -H "Idempotency-Key: dogfood-$commit" \
  --data-binary "@$report" \
  "$base/api/v1/runs?commit=$commit&branch=main&run_key=dogfood" >"$work/receipt.json"
python3 - "$work/receipt.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = r["counts"]
print(f"dogfood: stored run {r['run_id']}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped, {c['error']} errors")
for m in r["matched"]:
    print(f"dogfood:   {m['change']}/{m['failure_mode']}: {m['coverage']}")
PY
if curl -sS --fail-with-body -H "Authorization: Bearer $token" "$base/api/v1/changes/PM-1/gate?require=open" >"$work/gate.json"; then
  echo "dogfood: the gate of PM-1 (Premortem itself) is open"
else
  echo "dogfood: the gate of PM-1 (Premortem itself) is CLOSED:"
  cat "$work/gate.json"; echo
  exit 1
fi
