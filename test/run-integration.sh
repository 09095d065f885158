#!/usr/bin/env bash
# Extension-host integration suite (test/integration/) in a real VS Code: code-server 4.100.3 (= VS Code 1.100.3),
# whose workbench Chromium opens with the extensionTestsPath payload. The suite runs real engine runs with the
# repository's .venv. code-server's extension host exits 0 even when tests fail, so the suite writes a result file
# and this script's exit status comes from that file.
#
#   test/run-integration.sh              install what is missing (once), build, run
#   test/run-integration.sh --electron   run the same suite in desktop VS Code via @vscode/test-electron instead
#
# Environment: LADDERLAB_E2E_CACHE (default ~/.cache/ladderlab-e2e; shared with test/run-e2e.sh) holds code-server,
# outside the repository; LADDERLAB_PYTHON (default .venv/bin/python); KEEP=1 keeps the temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
MODE=code-server
[ "${1:-}" = "--electron" ] && MODE=electron

log() { echo "[integration] $*"; }

source "$REPO/test/code-server.sh"

[ -x "$PYTHON" ] || { echo "no engine Python at $PYTHON: run scripts/setup-engine first" >&2; exit 2; }
if [ "$MODE" = code-server ]; then
  install_system_packages
  install_code_server
fi
[ -d node_modules/playwright-core ] && [ -d node_modules/@vscode/test-electron ] || npm install --no-audit --no-fund

log "building the extension and the suite"
node esbuild.mjs > /dev/null
node esbuild.mjs --integration > /dev/null

TMP="$(mktemp -d "${TMPDIR:-/tmp}/ladderlab-integration.XXXXXX")"
export XDG_CONFIG_HOME="$TMP/xdg-config" XDG_DATA_HOME="$TMP/xdg-data" XDG_CACHE_HOME="$TMP/xdg-cache"
CS_PID=""
cleanup() {
  if [ -n "$CS_PID" ]; then kill "$CS_PID" 2>/dev/null || true; wait "$CS_PID" 2>/dev/null || true; fi
  if [ "${KEEP:-}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# A workspace with the engine's interpreter as an absolute path (the setting expands only ${workspaceFolder}).
make_workspace() { # <dir> <trust setting: true|false>
  mkdir -p "$1/.vscode"
  cat > "$1/.vscode/settings.json" <<JSON
{
  "ladderLab.pythonPath": "$PYTHON",
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": $2,
  "security.workspace.trust.startupPrompt": "never",
  "telemetry.telemetryLevel": "off",
  "extensions.ignoreRecommendations": true
}
JSON
}

export EXT_PATH="$REPO" BROWSER_HOME="$TMP/browser"
if [ "$MODE" = electron ]; then
  make_workspace "$TMP/workspace" false
  WORKSPACE="$TMP/workspace" RESULT="$TMP/result.json" node test/integration/launch.mjs electron
  exit $?
fi

# One code-server pass per suite: "trusted" (workspace trust off, so everything may run) and "untrusted" (trust
# on and a folder never trusted: Restricted Mode). Each gets its own server state, so no trust decision carries over.
run_pass() { # <suite> <extra code-server flags...>
  local suite="$1"; shift
  local dir="$TMP/$suite"
  make_workspace "$dir/workspace" "$([ "$suite" = trusted ] && echo false || echo true)"
  local port
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  # The suite's settings reach it through the extension host, which code-server starts with its own environment.
  LADDERLAB_TEST_RESULT="$dir/result.json" LADDERLAB_TEST_SUITE="$suite" "$CS" --bind-addr "127.0.0.1:$port" --auth none \
    --user-data-dir "$dir/user" --extensions-dir "$dir/extensions" \
    --disable-telemetry --disable-update-check --disable-getting-started-override --ignore-last-opened \
    "$@" "$dir/workspace" > "$dir/code-server.log" 2>&1 &
  CS_PID=$!
  wait_for_code_server "$port" "$CS_PID" "$dir/code-server.log" || return 1
  log "$suite: code-server $CS_VERSION on 127.0.0.1:$port (pid $CS_PID)"
  local status=0
  PORT="$port" WORKSPACE="$dir/workspace" RESULT="$dir/result.json" node test/integration/launch.mjs code-server || status=$?
  if [ $status -ne 0 ]; then
    log "$suite: FAILED; code-server log tail:"
    tail -30 "$dir/code-server.log" >&2
  fi
  kill "$CS_PID" 2>/dev/null || true
  wait "$CS_PID" 2>/dev/null || true
  CS_PID=""
  return $status
}

STATUS=0
run_pass trusted --disable-workspace-trust || STATUS=1
run_pass untrusted || STATUS=1
[ $STATUS -eq 0 ] && log "all passes passed" || log "FAILED"
exit $STATUS
