#!/usr/bin/env bash
# End-to-end UI test: the extension, loaded unpacked, in a real VS Code (code-server 4.100.3 = VS Code 1.100.3)
# driven by playwright-core in Debian's Chromium. Installs what it needs (once), starts code-server on a free
# port with all of its state in a temporary folder, runs the scenarios (test/e2e/*.mjs), stops code-server, and exits
# non-zero on failure. Screenshots go to test-artifacts/e2e/.
# first-hour.mjs is different: it packages the VSIX (npm run package), installs it into a code-server of its own
# (nothing loaded from the repository) and walks a new user's first hour in a workspace outside the repository,
# starting with Set Up Engine Environment (a real venv, PyTorch and the bundled engine wheel, ~3-4 min of pip).
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

# A Hugging Face cache holding the embedded model under its hub id (laid out as huggingface_hub writes it), for the
# backbone picker; offline, as the extension runs the engine.
export HF_HOME="$TMP/hf-home"
"$PYTHON" engine/tests/hub_layout.py "$HF_HOME/hub" > /dev/null
PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export XDG_CONFIG_HOME="$TMP/xdg-config" XDG_DATA_HOME="$TMP/xdg-data" XDG_CACHE_HOME="$TMP/xdg-cache"
"$CS" --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$TMP/data/user" --extensions-dir "$TMP/data/extensions" \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override --ignore-last-opened \
  "$WS" > "$TMP/code-server.log" 2>&1 &
CS_PID=$!
FH_PID=
cleanup() {
  for pid in "$CS_PID" $FH_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${E2E_KEEP:-}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
wait_for_code_server "$PORT" "$CS_PID" "$TMP/code-server.log" || exit 1
log "code-server $CS_VERSION on port $PORT (pid $CS_PID), workspace $WS"

# The first hour: the packaged VSIX installed into a second code-server with its own state; the workspace (in $TMP,
# outside the repository) names no interpreter, only the PyTorch the setup installs (download.pytorch.org, which
# "auto" uses for the CPU build, is unreachable on CI machines; torch==2.13.0 is the CPU build pip finds there).
first_hour() {
  local fh="$TMP/first-hour"
  mkdir -p "$fh/workspace/.vscode" "$fh/data"
  log "packaging the VSIX (npm run package)"
  node scripts/package-vsix.mjs --out "$fh/ladder-lab.vsix" || return 1
  "$CS" --user-data-dir "$fh/data/user" --extensions-dir "$fh/data/extensions" \
    --install-extension "$fh/ladder-lab.vsix" || return 1
  cat > "$fh/workspace/.vscode/settings.json" <<JSON
{
  "ladderLab.setup.torch": "${LADDERLAB_E2E_TORCH:-torch==2.13.0}",
  "workbench.startupEditor": "none",
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "workbench.tips.enabled": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.ignoreRecommendations": true
}
JSON
  local port
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  # pip keeps its download cache where a user's would be (XDG_CACHE_HOME points into $TMP for code-server).
  PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/pip}" "$CS" --bind-addr "127.0.0.1:$port" --auth none \
    --user-data-dir "$fh/data/user" --extensions-dir "$fh/data/extensions" \
    --disable-telemetry --disable-update-check --disable-workspace-trust \
    --disable-getting-started-override --ignore-last-opened \
    "$fh/workspace" > "$fh/code-server.log" 2>&1 &
  FH_PID=$!
  wait_for_code_server "$port" "$FH_PID" "$fh/code-server.log" || return 1
  log "first hour: code-server on port $port (pid $FH_PID), the VSIX installed, workspace $fh/workspace"
  PORT="$port" WORKSPACE="$fh/workspace" ARTIFACTS="$REPO/test-artifacts/e2e" CHROMIUM_HOME="$TMP/chromium-fh" \
    node test/e2e/first-hour.mjs || { tail -40 "$fh/code-server.log" >&2; return 1; }
}

rm -rf "$REPO/test-artifacts/e2e"  # screenshots of this run only
set +e
# E2E_SCRIPTS: which scenarios to run, in order (try-model.mjs reuses the runs e2e.mjs trained, or trains its own;
# try-generate.mjs, last in the shared workspace, trains a tiny instruct run and generates its answer in Try Model;
# run-labels.mjs trains two LST variants from the CLI and checks Results tells them apart; sweep.mjs makes a 4-trial
# sweep in the Experiment form and runs, stops and resumes it from the Sweep panel).
for script in ${E2E_SCRIPTS:-e2e.mjs try-model.mjs run-labels.mjs sweep.mjs sweep-figures.mjs try-generate.mjs first-hour.mjs}; do
  log "scenario $script"
  if [ "$script" = first-hour.mjs ]; then
    first_hour
    STATUS=$?
    [ $STATUS -eq 0 ] || break
    continue
  fi
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
