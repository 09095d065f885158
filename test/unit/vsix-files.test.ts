// The packaged VSIX (scripts/package-vsix.mjs with @vscode/vsce's own file listing): per platform target it carries
// the extension's bundles, the engine wheel (Set Up Engine Environment installs it) and onnxruntime-node with that
// target's native binaries only, and no sources.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './jsonl';

interface PackageScript {
  vsixFiles(target: string): Promise<string[]>;
  checkFiles(files: string[], target: string): string[];
  platformRules(target: string): string[];
  buildEngineWheel(): string;
  engineWheelName(): string;
  ENGINE_WHEEL_DIR: string;
}
const load = () =>
  import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'package-vsix.mjs')).href) as Promise<PackageScript>;

// The real wheel, built as `npm run package` builds it (pip wheel, ~4 s), so the listings below include it.
let wheel = '';
before(async () => {
  wheel = (await load()).buildEngineWheel();
});
// vsce's listing walks node_modules (~10 s each on a busy machine): list each target once.
const listings = new Map<string, Promise<string[]>>();
const listFor = async (target: string) => {
  if (!listings.has(target))
    listings.set(
      target,
      load().then((s) => s.vsixFiles(target)),
    );
  return listings.get(target)!;
};

for (const target of ['linux-x64', 'win32-x64']) {
  test(`VSIX for ${target}: only ${target}'s onnxruntime binaries, the bundles, no sources`, async () => {
    const script = await load();
    const files = await listFor(target);
    assert.deepEqual(script.checkFiles(files, target), []);
    const bins = files.filter((f) => f.includes('onnxruntime-node/bin/'));
    const mib = bins.reduce((n, f) => n + statSync(path.join(REPO_ROOT, f)).size, 0) / 2 ** 20;
    console.log(`${target}: ${files.length} files, onnxruntime binaries ${bins.length} files ${mib.toFixed(1)} MiB`);
    assert.ok(mib < 100, `${mib} MiB of binaries: more than one platform's?`);
    assert.ok(!files.some((f) => f.endsWith('.map')), 'source maps in the package');
    assert.ok(files.includes(path.relative(REPO_ROOT, wheel).split(path.sep).join('/')), 'the engine wheel is missing');
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

test('the check refuses a VSIX without the engine wheel, or with a stray file beside it', async () => {
  const script = await load();
  const wheelPath = `${script.ENGINE_WHEEL_DIR}/${script.engineWheelName()}`;
  assert.match(script.engineWheelName(), /^ladderlab-\d+\.\d+\.\d+.*-py3-none-any\.whl$/);
  const withoutWheel = (await listFor('linux-x64')).filter((f) => f !== wheelPath);
  assert.deepEqual(script.checkFiles(withoutWheel, 'linux-x64'), [
    `missing the engine wheel ${wheelPath} (buildEngineWheel makes it)`,
  ]);
  const stray = [...withoutWheel, wheelPath, `${script.ENGINE_WHEEL_DIR}/ladderlab-0.0.1-py3-none-any.whl`];
  assert.ok(script.checkFiles(stray, 'linux-x64').some((p) => /other files beside the engine wheel/.test(p)));
});
