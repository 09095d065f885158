// "Set Up Engine Environment": creates <workspace>/.venv and installs the engine into it, with progress.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkEnvironment, describeReport, setupSteps, venvPython, type EnvironmentReport, type SetupStep as Step } from './environment';
import type { Logger } from './logger';

function runStep(step: Step, cwd: string, log: Logger, token: vscode.CancellationToken): Promise<number | null> {
  return new Promise((resolve) => {
    log.info(`$ ${[step.command, ...step.args].join(' ')}`);
    const child = spawn(step.command, step.args, { cwd, shell: false, env: { ...process.env, PIP_NO_INPUT: '1' } });
    const cancel = token.onCancellationRequested(() => child.kill('SIGTERM'));
    const pipe = (chunk: Buffer) => chunk.toString('utf8').split('\n').filter((l) => l.trim()).forEach((l) => log.info(l));
    child.stdout.on('data', pipe);
    child.stderr.on('data', pipe);
    child.on('error', (e) => {
      log.error(`cannot run ${step.command}: ${e.message}`);
      resolve(null);
    });
    child.on('close', (code) => {
      cancel.dispose();
      resolve(code);
    });
  });
}

/** Runs the steps; resolves to the check of the new interpreter, or undefined if a step failed or was cancelled. */
export async function setupEngine(folder: vscode.WorkspaceFolder, log: Logger): Promise<EnvironmentReport | undefined> {
  const cwd = folder.uri.fsPath;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Ladder Lab: setting up the engine', cancellable: true },
    async (progress, token) => {
      for (const step of setupSteps(cwd)) {
        progress.report({ message: step.title });
        const code = await runStep(step, cwd, log, token);
        if (token.isCancellationRequested) return undefined;
        if (code !== 0) {
          void vscode.window.showErrorMessage(`Ladder Lab: ${step.title} failed (exit ${code}); see the Ladder Lab output for details.`);
          return undefined;
        }
      }
      progress.report({ message: 'checking that torch, transformers, peft and ladderlab import' });
      const report = await checkEnvironment(venvPython(path.join(cwd, '.venv')), { deep: true, cwd });
      log.info(describeReport(report));
      return report;
    },
  );
}
