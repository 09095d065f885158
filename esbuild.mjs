// Bundles the extension (and, with --tests, the unit tests) with esbuild.
// Usage: node esbuild.mjs [--tests | --integration] [--production]
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';

const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');

// Options shared by everything that runs in Node (the extension host or node --test).
const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  minify: production,
  // vscode is provided by the extension host at runtime; it is never bundled. onnxruntime-node is a native
  // module (.node binaries per platform): it is required at runtime from the extension's node_modules.
  external: ['vscode', 'onnxruntime-node'],
  logLevel: 'info',
};

// Options for the webview apps: they run in the webview's browser sandbox (one ES module each, no Node).
const browser = {
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
};

// One webview app per folder of webview/ (its main.ts), bundled to dist/webview/<app>.js; their shared
// stylesheet media/webview.css goes to dist/webview/webview.css.
const WEBVIEW_APPS = ['monitor', 'results', 'experiment', 'try', 'sweep'];

// One entry per bundle.
const extensionBuilds = [
  { ...node, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
  // The inference measurement runs in a child process of its own (see src/inference/benchmark.ts).
  { ...node, entryPoints: ['src/inference/benchmarkChild.ts'], outfile: 'dist/inferenceBenchmark.js' },
  ...WEBVIEW_APPS.map((app) => ({
    ...browser,
    entryPoints: [`webview/${app}/main.ts`],
    outfile: `dist/webview/${app}.js`,
  })),
  { ...browser, entryPoints: ['media/webview.css'], outfile: 'dist/webview/webview.css' },
];

function testBuilds() {
  // Start clean so a deleted test file does not keep running from a stale bundle.
  rmSync('out/test/unit', { recursive: true, force: true });
  const files = readdirSync('test/unit').filter((f) => f.endsWith('.test.ts'));
  return [
    ...files.map((f) => ({
      ...node,
      entryPoints: [`test/unit/${f}`],
      outfile: `out/test/unit/${f.replace(/\.ts$/, '.js')}`,
    })),
    // The inference-measurement child the unit tests fork (outside out/test/unit: node --test runs every file there).
    { ...node, entryPoints: ['src/inference/benchmarkChild.ts'], outfile: 'out/test/inferenceBenchmark.js' },
  ];
}

// The extension-host integration suite (test/integration/index.ts imports every *.test.ts): one bundle that
// VS Code loads through extensionTestsPath. vscode stays external: the host provides it.
const integration = process.argv.includes('--integration');
function integrationBuilds() {
  rmSync('out/test/integration', { recursive: true, force: true });
  return [{ ...node, entryPoints: ['test/integration/index.ts'], outfile: 'out/test/integration/index.js' }];
}

const builds = tests ? testBuilds() : integration ? integrationBuilds() : extensionBuilds;
await Promise.all(builds.map((options) => esbuild.build(options)));
