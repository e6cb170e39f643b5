#!/usr/bin/env bash
# Browser tests: serves the release binary on a fresh SQLite database and a free port, creates the
# first admin through the CLI as the README says, then runs Playwright (JavaScript on and off);
# arguments go to Playwright (e.g. `--repeat-each 10` to prove a test is not flaky).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PREMORTEM_DATABASE_URL="sqlite://$work/e2e.db"
export PREMORTEM_LISTEN="127.0.0.1:$port"
# The release binary (`make release`) alone in an empty directory, as a user deploys it.
bin=$work/premortem
cp "${PREMORTEM_BIN:-${TARGET_DIR:-target}/release/premortem}" "$bin"

echo 'e2e-admin-password' | "$bin" user create --username admin --display-name "Ada Admin" --admin >/dev/null
# A team to work in, set up from the command line as the README shows.
"$bin" team create --slug QUE --name "Exam queue" >/dev/null
"$bin" team create --slug OPS --name "Operations" >/dev/null
for who in amy:member lena:lead vic:viewer; do
  echo "${who%%:*}-password-1" | "$bin" user create --username "${who%%:*}" --team QUE --role "${who##*:}" >/dev/null
done
echo 'olaf-password-1' | "$bin" user create --username olaf --team OPS --role lead >/dev/null
# Single sign-on through the tests' OpenID provider (oidc-provider, with its client for this
# server), started after the server so that the server starts with its provider down and finds
# it by retrying, as it would after an outage.
oidc_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sso=(PREMORTEM_PUBLIC_URL="http://$PREMORTEM_LISTEN" PREMORTEM_OIDC_ISSUER="http://127.0.0.1:$oidc_port" PREMORTEM_OIDC_CLIENT_ID=premortem
  PREMORTEM_OIDC_CLIENT_SECRET=e2e-client-secret PREMORTEM_OIDC_NAME="Example SSO"
  PREMORTEM_OIDC_SCOPES=groups PREMORTEM_OIDC_GROUPS_CLAIM=groups)
# Webhooks may reach the browser tests' own receiver on this machine.
(cd "$work" && exec env "${sso[@]}" PREMORTEM_WEBHOOK_ALLOW_PRIVATE=true ./premortem serve) >"$work/server.log" 2>&1 &
server=$!
sleep 0.5
OIDC_CLIENT_SECRET=e2e-client-secret OIDC_REDIRECT_URI="http://$PREMORTEM_LISTEN/auth/oidc/callback" \
  node end2end/oidc/provider.mjs --port "$oidc_port" --parent $$ >"$work/oidc.log" 2>&1 &
export OIDC_ISSUER="http://127.0.0.1:$oidc_port"
# A second instance on the demo data set, as `premortem demo` leaves a fresh database.
demo_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
demo_db="sqlite://$work/demo.db"
people=$(PREMORTEM_DATABASE_URL=$demo_db "$bin" demo)
rita=$(awk '$1 == "rita" { print $3 }' <<<"$people")
demo_admin=$(awk '$1 == "demo-admin" { print $3 }' <<<"$people")
(cd "$work" && PREMORTEM_DATABASE_URL=$demo_db PREMORTEM_LISTEN="127.0.0.1:$demo_port" exec ./premortem serve) >"$work/demo.log" 2>&1 &
demo=$!
trap 'kill $server $demo 2>/dev/null || true; wait $server $demo 2>/dev/null || true; rm -rf "$work"' EXIT
for url in "http://$PREMORTEM_LISTEN/healthz" "http://127.0.0.1:$demo_port/healthz" "$OIDC_ISSUER/.well-known/openid-configuration"; do
  for _ in $(seq 1 100); do
    curl -fsS "$url" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
# The server found its provider again by retrying (its sign-in button goes there).
for _ in $(seq 1 200); do
  curl -fsS -o /dev/null -w '%{redirect_url}' "http://$PREMORTEM_LISTEN/auth/oidc/start" | grep -q "^$OIDC_ISSUER/" && break
  sleep 0.1
done
export DEMO_URL="http://127.0.0.1:$demo_port" DEMO_RITA_PASSWORD="$rita" DEMO_ADMIN_PASSWORD="$demo_admin"

cd end2end
if ! BASE_URL="http://$PREMORTEM_LISTEN" ADMIN_PASSWORD=e2e-admin-password npx playwright test "$@"; then
  echo "--- server log ---"; tail -n 50 "$work/server.log"
  exit 1
fi
