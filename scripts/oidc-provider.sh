# Sourced by `make unit`: exports PREMORTEM_TEST_OIDC_ISSUER, the address of a real OpenID
# provider (oidc-provider, end2end/oidc/provider.mjs) on a free port, started once for the whole
# run and gone when the shell that sourced this exits. Needs end2end's npm packages.

if [[ -z "${PREMORTEM_TEST_OIDC_ISSUER:-}" ]]; then
  oidc_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  node end2end/oidc/provider.mjs --port "$oidc_port" --parent $$ >"${TMPDIR:-/tmp}/premortem-oidc-$oidc_port.log" 2>&1 &
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$oidc_port/.well-known/openid-configuration" >/dev/null 2>&1 && break
    sleep 0.1
  done
  export PREMORTEM_TEST_OIDC_ISSUER="http://127.0.0.1:$oidc_port"
fi
