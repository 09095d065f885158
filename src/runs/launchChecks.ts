// What is checked before the host starts an engine process, as pure functions (no vscode) so the messages are
// unit-tested: each names the file, field or setting at fault and says what to do.
import * as path from 'node:path';
import { describeReport, type EnvironmentReport } from '../engine/environment';
import type { BackboneShape } from '../../protocol/backboneRules';
import { experimentErrors, parseExperimentText } from '../../protocol/experiment';
import { backboneInfo } from '../views/backboneInfo';
import { experimentPath } from '../views/pathPolicy';
import { unfinishedTrials, type SweepFolder } from '../sweeps/sweepFolders';
import type { RunRecord } from './types';

/** Why launching is refused, or undefined if it is allowed. Running a workspace's Python is code execution. */
export function launchBlockedReason(trusted: boolean): string | undefined {
  return trusted
    ? undefined
    : "Ladder Lab does not start the engine in a Restricted Mode workspace: running it executes this workspace's Python. " +
        'Trust the workspace (Manage Workspace Trust) to run experiments; existing results are still listed.';
}

/** The engine's environment lacks packages; carries the report so the UI can offer "Set Up Engine Environment". */
export class EngineEnvironmentError extends Error {
  constructor(readonly report: EnvironmentReport) {
    super(environmentProblem(report));
  }
}

/**
 * Why an experiment file cannot be run, naming the file and every bad field; undefined if it can. With the
 * backbone's shape, the rules that depend on it (r, kept layers, side heads) are checked too: a bad r is refused
 * here, not by the engine after the first methods of a comparison.
 */
export function experimentProblem(file: string, text: string, shape: BackboneShape | null = null): string | undefined {
  // A sweep block is the engine's to check (it refuses a bad grid, naming the field, before any trial starts); the
  // fields beside it are the experiment every trial starts from, checked here.
  const errors = experimentErrors(parseExperimentText(text), shape);
  if (errors.length === 0) return undefined;
  return `${path.basename(file)}: ${errors.map((e) => e.message).join('; ')}`;
}

/** experimentProblem with the shape of the backbone the file names (a relative folder is read from the file's
 * folder, as the engine reads it). */
export async function experimentLaunchProblem(file: string, text: string): Promise<string | undefined> {
  const { values } = parseExperimentText(text);
  const info = await backboneInfo(values.backbone, (p) => experimentPath(p, file));
  return experimentProblem(file, text, info.shape);
}

/** Why the interpreter cannot run the engine (missing, or missing packages), with the two ways out. */
export function environmentProblem(report: EnvironmentReport): string | undefined {
  if (report.ok) return undefined;
  return `The engine cannot run: ${describeReport(report)}. Run "Ladder Lab: Set Up Engine Environment" or choose another interpreter (Ladder Lab: Select Python Interpreter, setting ladderLab.pythonPath).`;
}

/** Why a run cannot be resumed; undefined if `ladderlab resume` may be asked (the engine has the last word). */
export function resumeRefusal(record: RunRecord): string | undefined {
  switch (record.status) {
    case 'interrupted':
      return record.resumable
        ? undefined
        : `Run ${record.id} has no config.json, so the engine cannot tell what it trained: it cannot be resumed; run the experiment again.`;
    case 'running':
      return `Run ${record.id} is still running; stop it first (Ladder Lab: Stop Run) to resume it later.`;
    case 'finished':
      return `Run ${record.id} already finished (summary.json exists); open its results instead.`;
    case 'failed':
      return `Run ${record.id} failed (${record.error?.kind ?? 'error'}: ${record.error?.message ?? 'see its events.jsonl'}); fix the cause and run the experiment again.`;
    case 'corrupt':
      return `Run ${record.id} cannot be read (${record.problem ?? 'corrupt'}); it cannot be resumed.`;
  }
}

/** Why a sweep cannot be resumed; undefined if `ladderlab sweep resume` may be asked. */
export function sweepResumeRefusal(sweep: Pick<SweepFolder, 'id' | 'counts'>): string | undefined {
  const left = unfinishedTrials(sweep.counts);
  if (left === null)
    return `Sweep ${sweep.id} cannot be resumed: its manifest.json is missing or unreadable, so its trials are unknown.`;
  if (left === 0) return `Sweep ${sweep.id} has no unfinished trial: every trial finished. Open it to see its results.`;
  return undefined;
}
