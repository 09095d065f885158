#!/usr/bin/env bash
# End-to-end UI test: the extension, loaded unpacked, in a real VS Code (code-server 4.100.3 = VS Code 1.100.3)
# driven by playwright-core in Debian's Chromium. Installs what it needs (once), starts code-server on a free
# port with all of its state in a temporary folder, runs test/e2e/e2e.mjs, stops code-server, and exits non-zero
# on failure. Screenshots go to test-artifacts/e2e/.
#
#   test/run-e2e.sh                 install if needed, build, run
#   test/run-e2e.sh --install-only  only install code-server (and the apt packages, as root)
#
# Environment: LADDERLAB_E2E_CACHE (default ~/.cache/ladderlab-e2e) holds code-server, outside the repository;
# LADDERLAB_PYTHON (default .venv/bin/python) is the engine's Python; E2E_KEEP=1 keeps the temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

log() { echo "[run-e2e] $*"; }

source "$REPO/test/code-server.sh"

install_system_packages
install_code_server
[ "${1:-}" = "--install-only" ] && exit 0

[ -x "$PYTHON" ] || { echo "no engine Python at $PYTHON: run scripts/setup-engine first" >&2; exit 2; }
[ -d node_modules/playwright-core ] || npm install --no-audit --no-fund
log "building the extension"
npm run --silent build

TMP="$(mktemp -d "${TMPDIR:-/tmp}/ladderlab-e2e.XXXXXX")"
WS="$TMP/workspace"
mkdir -p "$WS/.vscode" "$TMP/data"
# The engine's Python as an absolute path, computed now (the setting does not expand ${workspaceFolder}).
cat > "$WS/.vscode/settings.json" <<JSON
{
  "ladderLab.pythonPath": "$PYTHON",
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.ignoreRecommendations": true
}
JSON

PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export XDG_CONFIG_HOME="$TMP/xdg-config" XDG_DATA_HOME="$TMP/xdg-data" XDG_CACHE_HOME="$TMP/xdg-cache"
"$CS" --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$TMP/data/user" --extensions-dir "$TMP/data/extensions" \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override --ignore-last-opened \
  "$WS" > "$TMP/code-server.log" 2>&1 &
CS_PID=$!
cleanup() {
  kill "$CS_PID" 2>/dev/null || true
  wait "$CS_PID" 2>/dev/null || true
  if [ "${E2E_KEEP:-}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
wait_for_code_server "$PORT" "$CS_PID" "$TMP/code-server.log" || exit 1
log "code-server $CS_VERSION on port $PORT (pid $CS_PID), workspace $WS"

rm -rf "$REPO/test-artifacts/e2e"  # screenshots of this run only
set +e
# E2E_SCRIPTS: which scenarios to run, in order (try-model.mjs reuses the runs e2e.mjs trained, or trains its own).
for script in ${E2E_SCRIPTS:-e2e.mjs try-model.mjs run-labels.mjs}; do
  log "scenario $script"
  PORT="$PORT" WORKSPACE="$WS" EXT_PATH="$REPO" DATA_DIR="$REPO/engine/tests/fixtures/glue-real/SST-2" \
    ARTIFACTS="$REPO/test-artifacts/e2e" CHROMIUM_HOME="$TMP/chromium" PYTHON="$PYTHON" \
    node "test/e2e/$script"
  STATUS=$?
  [ $STATUS -eq 0 ] || break
done
set -e
if [ $STATUS -ne 0 ]; then
  log "FAILED (exit $STATUS); code-server log tail:"
  tail -40 "$TMP/code-server.log" >&2
fi
exit $STATUS
