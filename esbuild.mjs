// Bundles the extension (and, with --tests, the unit tests) with esbuild.
// Usage: node esbuild.mjs [--tests] [--production]
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
  // vscode is provided by the extension host at runtime; it is never bundled.
  external: ['vscode'],
  logLevel: 'info',
};

// One entry per bundle. Webview apps (browser platform) get their own entries here later.
const extensionBuilds = [
  { ...node, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
];

function testBuilds() {
  // Start clean so a deleted test file does not keep running from a stale bundle.
  rmSync('out/test/unit', { recursive: true, force: true });
  const files = readdirSync('test/unit').filter((f) => f.endsWith('.test.ts'));
  return files.map((f) => ({
    ...node,
    entryPoints: [`test/unit/${f}`],
    outfile: `out/test/unit/${f.replace(/\.ts$/, '.js')}`,
  }));
}

const builds = tests ? testBuilds() : extensionBuilds;
await Promise.all(builds.map((options) => esbuild.build(options)));
