// Entry point of the extension-host integration suite (extensionTestsPath): VS Code calls run() after the
// extension under development is loaded; a rejected promise means failure. Test files register in import order.
import * as path from 'node:path';
import './activation.test';
import './runs.test';
import './estimate.test';
import './paths.test';
import './resilience.test';
import './sweep.test';
import './experimentSweep.test';
import './sweepResults.test';
import './tryModel.test';
import './fuzz.test';
import './untrusted.test';
import { runAll } from './harness';

export function run(): Promise<void> {
  // The runner (test/run-integration.sh) names the result file and the suite; elsewhere: next to this bundle, trusted.
  const suite = process.env.LADDERLAB_TEST_SUITE === 'untrusted' ? 'untrusted' : 'trusted';
  return runAll(process.env.LADDERLAB_TEST_RESULT ?? path.join(__dirname, `result-${suite}.json`), suite);
}
