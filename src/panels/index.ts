// Registers the webviews: the run monitor, results, sweep and Try Model panels (each with its command and the
// serializer that restores it after a window reload), the sidebar Experiment view, and the GPU monitor that feeds the
// run monitor. The public commands (ladderLab.openMonitor / openResults) call the internal ones; Open Sweep is the
// sweep panel's own.
import * as vscode from 'vscode';
import { GpuMonitor } from '../engine/gpuMonitor';
import type { RunManagerApi } from '../runs/types';
import { ExperimentViewProvider } from '../views/experimentView';
import { MonitorPanel, SHOW_MONITOR_COMMAND, type PanelDeps } from './monitorPanel';
import { ResultsPanel } from './resultsPanel';
import { SweepPanel } from './sweepPanel';
import { TryModelPanel } from './tryModelPanel';

export { SHOW_MONITOR_COMMAND } from './monitorPanel';
export { SHOW_RESULTS_COMMAND } from './resultsPanel';

/** The panels' message handlers, for the integration suite's fuzz test (the same ones onDidReceiveMessage calls). */
export interface PanelHandles {
  monitor(): MonitorPanel | undefined;
  results(): ResultsPanel | undefined;
  sweep(): SweepPanel | undefined;
  tryModel(): TryModelPanel | undefined;
  experiment: ExperimentViewProvider;
}

export function registerPanels(context: vscode.ExtensionContext, runManager: RunManagerApi): PanelHandles {
  const uri = context.extensionUri;
  const gpu = new GpuMonitor(runManager);
  const deps: PanelDeps = { runManager, gpu };
  const experiment = new ExperimentViewProvider(uri, runManager, () =>
    vscode.commands.executeCommand(SHOW_MONITOR_COMMAND),
  );
  context.subscriptions.push(
    gpu,
    experiment,
    MonitorPanel.register(uri, deps),
    ResultsPanel.register(uri, deps),
    SweepPanel.register(uri, runManager),
    TryModelPanel.register(uri, runManager),
    vscode.window.registerWebviewViewProvider(ExperimentViewProvider.viewType, experiment),
  );
  return {
    monitor: () => MonitorPanel.currentPanel,
    results: () => ResultsPanel.currentPanel,
    sweep: () => SweepPanel.currentPanel,
    tryModel: () => TryModelPanel.currentPanel,
    experiment,
  };
}
