// The packaged VSIX (scripts/package-vsix.mjs with @vscode/vsce's own file listing): per platform target it carries
// the extension's bundles and onnxruntime-node with that target's native binaries only, and no sources.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './jsonl';

interface PackageScript {
  vsixFiles(target: string): Promise<string[]>;
  checkFiles(files: string[], target: string): string[];
  platformRules(target: string): string[];
}
const load = () =>
  import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'package-vsix.mjs')).href) as Promise<PackageScript>;

for (const target of ['linux-x64', 'win32-x64']) {
  test(`VSIX for ${target}: only ${target}'s onnxruntime binaries, the bundles, no sources`, async () => {
    const script = await load();
    const files = await script.vsixFiles(target);
    assert.deepEqual(script.checkFiles(files, target), []);
    const bins = files.filter((f) => f.includes('onnxruntime-node/bin/'));
    const mib = bins.reduce((n, f) => n + statSync(path.join(REPO_ROOT, f)).size, 0) / 2 ** 20;
    console.log(`${target}: ${files.length} files, onnxruntime binaries ${bins.length} files ${mib.toFixed(1)} MiB`);
    assert.ok(mib < 100, `${mib} MiB of binaries: more than one platform's?`);
    assert.ok(!files.some((f) => f.endsWith('.map')), 'source maps in the package');
  });
}

test('an unknown target is refused by name', async () => {
  const script = await load();
  assert.throws(() => script.platformRules('linux-armhf'), /unsupported target linux-armhf/);
});

test("the check catches another platform's binaries and a missing binding", async () => {
  const script = await load();
  const bin = 'node_modules/onnxruntime-node/bin/napi-v6';
  const problems = script.checkFiles([`${bin}/win32/x64/onnxruntime_binding.node`], 'linux-x64');
  assert.ok(problems.some((p) => /no onnxruntime binding for linux-x64/.test(p)));
  assert.ok(problems.some((p) => /binaries of other platforms/.test(p)));
});
