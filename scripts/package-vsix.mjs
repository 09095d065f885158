#!/usr/bin/env node
// Packages the extension as a platform-specific VSIX with @vscode/vsce: the production bundle plus onnxruntime-node
// with ONLY the target platform's native binaries (the npm package carries all of them: ~290 MB).
//   node scripts/package-vsix.mjs [--target linux-x64] [--out ladder-lab-linux-x64.vsix] [--verify EXPORT_DIR]
// It also builds the engine's wheel into dist/engine/ (pure Python, one for every target): Set Up Engine Environment
// installs it from the extension's folder, so the VSIX needs nothing but PyPI for the engine's dependencies.
// Default target: this machine's. The file list is checked before packaging: the target's binding must be in it,
// no other platform's may be. --verify (target = this machine) unpacks the VSIX and runs an exported model with
// the inference child from the unpacked extension alone, i.e. with only what the VSIX carries.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
// Where the engine wheel goes, inside the extension (src/engine/setupPlan.ts ENGINE_WHEEL_DIR reads it from there).
export const ENGINE_WHEEL_DIR = 'dist/engine';
// VS Code's platform targets -> onnxruntime-node's bin/<platform>/<arch> folder.
const TARGETS = {
  'linux-x64': ['linux', 'x64'],
  'linux-arm64': ['linux', 'arm64'],
  'alpine-x64': ['linux', 'x64'],
  'darwin-x64': ['darwin', 'x64'],
  'darwin-arm64': ['darwin', 'arm64'],
  'win32-x64': ['win32', 'x64'],
  'win32-arm64': ['win32', 'arm64'],
};

export function hostTarget() {
  return `${process.platform}-${process.arch}`;
}

/** The rule that lets in the target's onnxruntime-node binaries (and no other platform's). */
export function platformRules(target) {
  const wanted = TARGETS[target];
  if (!wanted)
    throw new Error(
      `unsupported target ${target}: onnxruntime-node has binaries for ${Object.keys(TARGETS).join(', ')}`,
    );
  return [`!${ORT_BIN}/${wanted[0]}/${wanted[1]}/**`];
}

/** The .vscodeignore of the repository plus the target's platform rules, as a temporary file. */
function writeIgnoreFile(target) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ladderlab-vsix-'));
  const file = path.join(dir, '.vscodeignore');
  writeFileSync(
    file,
    `${readFileSync(path.join(REPO, '.vscodeignore'), 'utf8')}\n${platformRules(target).join('\n')}\n`,
  );
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The files vsce would put in the VSIX for `target` (paths relative to the repository). */
export async function vsixFiles(target) {
  const { listFiles } = await import('@vscode/vsce');
  const ignore = writeIgnoreFile(target);
  try {
    return (await listFiles({ cwd: REPO, ignoreFile: ignore.file })).map((f) => f.split(path.sep).join('/'));
  } finally {
    ignore.cleanup();
  }
}

/** The engine wheel's file name, from engine/pyproject.toml (a pure-Python wheel: py3-none-any). */
export function engineWheelName() {
  const toml = readFileSync(path.join(REPO, 'engine', 'pyproject.toml'), 'utf8');
  const project = /\[project\]([^[]*)/.exec(toml)?.[1] ?? '';
  const name = /^name\s*=\s*"([^"]+)"/m.exec(project)?.[1];
  const version = /^version\s*=\s*"([^"]+)"/m.exec(project)?.[1];
  if (!name || !version) throw new Error('engine/pyproject.toml: no [project] name and version');
  return `${name.replace(/-/g, '_')}-${version}-py3-none-any.whl`;
}

/**
 * Builds the engine wheel into dist/engine/ with the engine's Python (LADDERLAB_PYTHON, default .venv) and returns
 * its path. It builds from a copy of engine/ (setuptools would leave engine/build/ behind) and moves the wheel in
 * with a rename, so a concurrent listing never sees half a file; older wheels there are removed.
 */
export function buildEngineWheel() {
  const python = process.env.LADDERLAB_PYTHON ?? path.join(REPO, '.venv', 'bin', 'python');
  if (!existsSync(python))
    throw new Error(`no Python at ${python} to build the engine wheel: run scripts/setup-engine`);
  const tmp = mkdtempSync(path.join(tmpdir(), 'ladderlab-wheel-'));
  try {
    const src = path.join(tmp, 'engine');
    cpSync(path.join(REPO, 'engine'), src, {
      recursive: true,
      filter: (f) => !/(^|[\\/])(__pycache__|build|tests|[^\\/]*\.egg-info)$/.test(path.relative(REPO, f)),
    });
    // No build isolation: setuptools comes from the engine's own environment, so packaging needs no network.
    execFileSync(
      python,
      ['-m', 'pip', 'wheel', src, '--no-deps', '--no-build-isolation', '--disable-pip-version-check', '-q', '-w', tmp],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const name = engineWheelName();
    const dir = path.join(REPO, ENGINE_WHEEL_DIR);
    mkdirSync(dir, { recursive: true });
    renameSync(path.join(tmp, name), path.join(dir, name));
    for (const f of readdirSync(dir)) if (f !== name) rmSync(path.join(dir, f), { force: true });
    return path.join(dir, name);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Problems with a file list for `target`: a missing binding, another platform's binaries, sources, no engine. */
export function checkFiles(files, target) {
  const [platform, arch] = TARGETS[target];
  const problems = [];
  const bins = files.filter((f) => f.startsWith(`${ORT_BIN}/`));
  if (!bins.includes(`${ORT_BIN}/${platform}/${arch}/onnxruntime_binding.node`))
    problems.push(`no onnxruntime binding for ${target}`);
  const foreign = bins.filter((f) => !f.startsWith(`${ORT_BIN}/${platform}/${arch}/`));
  if (foreign.length) problems.push(`binaries of other platforms: ${foreign.slice(0, 5).join(', ')}`);
  for (const needed of [
    'dist/extension.js',
    'dist/inferenceBenchmark.js',
    'dist/webview/try.js',
    'node_modules/onnxruntime-common/package.json',
  ]) {
    if (!files.includes(needed)) problems.push(`missing ${needed}`);
  }
  const wheel = `${ENGINE_WHEEL_DIR}/${engineWheelName()}`;
  if (!files.includes(wheel)) problems.push(`missing the engine wheel ${wheel} (buildEngineWheel makes it)`);
  const others = files.filter((f) => f.startsWith(`${ENGINE_WHEEL_DIR}/`) && f !== wheel);
  if (others.length) problems.push(`other files beside the engine wheel: ${others.join(', ')}`);
  const maps = files.filter((f) => f.endsWith('.map'));
  if (maps.length) problems.push(`source maps in the package: ${maps.slice(0, 3).join(', ')}`);
  const sources = files.filter((f) => /^(src|test|engine|webview)\//.test(f));
  if (sources.length) problems.push(`sources in the package: ${sources.slice(0, 5).join(', ')}`);
  return problems;
}

/** Unpacks a VSIX (a zip) into `dir` with yauzl, the unzip library vsce itself uses. */
async function unzip(vsix, dir) {
  const { default: yauzl } = await import('yauzl');
  const zip = await new Promise((resolve, reject) =>
    yauzl.open(vsix, { lazyEntries: true }, (e, z) => (e ? reject(e) : resolve(z))),
  );
  await new Promise((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (entry) => {
      const target = path.join(dir, entry.fileName);
      if (!target.startsWith(dir + path.sep)) return reject(new Error(`unsafe path in the VSIX: ${entry.fileName}`));
      if (entry.fileName.endsWith('/')) return zip.readEntry();
      mkdirSync(path.dirname(target), { recursive: true });
      zip.openReadStream(entry, (e, stream) => {
        if (e) return reject(e);
        pipeline(stream, createWriteStream(target)).then(() => zip.readEntry(), reject);
      });
    });
    zip.readEntry();
  });
}

/** Runs the unpacked extension's inference child on an export folder; returns its figures (throws on failure). */
export async function verifyVsix(vsix, exportDir) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ladderlab-vsix-unpacked-'));
  try {
    await unzip(vsix, dir);
    const out = execFileSync(
      process.execPath,
      [path.join(dir, 'extension', 'dist', 'inferenceBenchmark.js'), exportDir, '3'],
      { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return JSON.parse(out.trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const target = arg('--target') ?? hostTarget();
  const out = path.resolve(arg('--out') ?? `ladder-lab-${target}.vsix`);
  // The bundles must exist for the file check; vsce then runs vscode:prepublish (the same build) itself.
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, stdio: 'inherit' });
  console.log(`package-vsix: engine wheel ${path.relative(REPO, buildEngineWheel())}`);
  const files = await vsixFiles(target);
  const problems = checkFiles(files, target);
  if (problems.length) throw new Error(`the VSIX file list is wrong:\n  ${problems.join('\n  ')}`);
  const { createVSIX } = await import('@vscode/vsce');
  const ignore = writeIgnoreFile(target);
  try {
    await createVSIX({
      cwd: REPO,
      target,
      packagePath: out,
      ignoreFile: ignore.file,
      skipLicense: true,
      allowMissingRepository: true,
    });
  } finally {
    ignore.cleanup();
  }
  console.log(`package-vsix: ${out} (${target}, ${files.length} files)`);
  const exportDir = arg('--verify');
  if (exportDir) {
    if (target !== hostTarget()) throw new Error(`--verify runs the VSIX here, so --target must be ${hostTarget()}`);
    const figures = await verifyVsix(out, path.resolve(exportDir));
    console.log(`package-vsix: the unpacked VSIX ran ${exportDir}: ${figures.latency_ms_median} ms median`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`package-vsix: ${e.message}`);
    process.exit(1);
  });
}
