// The models of the user's Hugging Face cache for the backbone picker, asked of the engine (`ladderlab cache list
// --json`, which reads the cache with huggingface_hub's own scan: HF_HOME / HF_HUB_CACHE as the user set them).
import { execFile } from 'node:child_process';
import { parseCacheListing, type CachedModel } from '../../protocol/hubCache';
import { engineEnv } from '../engine/worker';

/** The cached models; [] when the engine cannot say (none set up yet, an engine without the command): the picker
 * then offers the built-in model, presets and folders, as before. */
export function listCachedModels(python: string, cwd: string | undefined): Promise<CachedModel[]> {
  const args = ['-m', 'ladderlab.cli', 'cache', 'list', '--json'];
  return new Promise((resolve) => {
    execFile(
      python,
      args,
      { cwd, shell: false, timeout: 60_000, maxBuffer: 8 * 2 ** 20, env: engineEnv() },
      (error, stdout) => {
        const listing = error ? undefined : parseCacheListing(stdout);
        resolve(listing && 'models' in listing ? listing.models : []);
      },
    );
  });
}
