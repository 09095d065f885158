#!/usr/bin/env bash
# Sourced by test/run-integration.sh and test/run-e2e.sh: installs what a real-VS-Code test needs, once.
# Defines the settings both runners share; expects REPO and a log function from the caller.

CACHE="${LADDERLAB_E2E_CACHE:-$HOME/.cache/ladderlab-e2e}"
CS_VERSION=4.100.3
CS="$CACHE/code-server/node_modules/.bin/code-server"
PYTHON="${LADDERLAB_PYTHON:-$REPO/.venv/bin/python}"

install_system_packages() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v rg >/dev/null || missing+=(ripgrep)
  [ -e /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev) # code-server's kerberos module compiles against it
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing system packages: ${missing[*]} (install them, e.g. apt-get install -y ${missing[*]})" >&2
    exit 2
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Waits until code-server (pid $2) answers on port $1; prints its log ($3) and fails if it dies first.
wait_for_code_server() {
  local port=$1 pid=$2 logfile=$3
  for _ in $(seq 1 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$logfile" >&2; return 1; }
    sleep 0.5
  done
}

install_code_server() {
  if [ -x "$CS" ] && "$CS" --version 2>/dev/null | grep -q "^$CS_VERSION"; then return 0; fi
  log "installing code-server $CS_VERSION into $CACHE/code-server (about a minute)"
  mkdir -p "$CACHE/code-server" "$CACHE/scratch"
  # @vscode/ripgrep's postinstall downloads rg from GitHub unless its cache (under TMPDIR) holds the archive:
  # seed it from the system ripgrep so the install needs nothing but the npm registry.
  local seed="$CACHE/scratch/vscode-ripgrep-cache-1.15.11"
  mkdir -p "$seed"
  tar czf "$seed/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
  (
    cd "$CACHE/code-server"
    [ -f package.json ] || echo '{"name":"ladderlab-code-server","private":true}' > package.json
    # unsafe_perm: code-server's postinstall refuses to run as root without it; yes: node-pty runs `npx node-gyp`.
    TMPDIR="$CACHE/scratch" npm_config_unsafe_perm=true npm_config_yes=true \
      npm install --no-save --no-audit --no-fund --foreground-scripts "code-server@$CS_VERSION" > "$CACHE/install.log" 2>&1 \
      || { tail -30 "$CACHE/install.log" >&2; exit 1; }
  )
}
