// Registers the webviews: the run monitor and results panels (with their internal commands and the serializers
// that restore them after a window reload), the sidebar Experiment view, and the GPU monitor that feeds the
// run monitor. The public commands (ladderLab.openMonitor / openResults) call the internal ones.
import * as vscode from 'vscode';
import { GpuMonitor } from '../engine/gpuMonitor';
import type { RunManagerApi } from '../runs/types';
import { ExperimentViewProvider } from '../views/experimentView';
import { MonitorPanel, type PanelDeps } from './monitorPanel';
import { ResultsPanel } from './resultsPanel';
import { registerTryModel } from './tryModelPanel';
import { webviewOptions } from './webviewHtml';

export const SHOW_MONITOR_COMMAND = 'ladderLab.internal.showMonitor';
export const SHOW_RESULTS_COMMAND = 'ladderLab.internal.showResults';

/** The panels' message handlers, for the integration suite's fuzz test (the same ones onDidReceiveMessage calls). */
export interface PanelHandles {
  monitor(): MonitorPanel | undefined;
  results(): ResultsPanel | undefined;
  experiment: ExperimentViewProvider;
}

export function registerPanels(context: vscode.ExtensionContext, runManager: RunManagerApi): PanelHandles {
  const uri = context.extensionUri;
  const gpu = new GpuMonitor(runManager);
  const deps: PanelDeps = { runManager, gpu };
  const experiment = new ExperimentViewProvider(uri, runManager, () => vscode.commands.executeCommand(SHOW_MONITOR_COMMAND));
  context.subscriptions.push(
    gpu,
    experiment,
    vscode.commands.registerCommand(SHOW_MONITOR_COMMAND, () => {
      MonitorPanel.createOrShow(uri, deps);
    }),
    // Optional argument: the run ids to compare (e.g. from the runs tree); default the latest comparison.
    vscode.commands.registerCommand(SHOW_RESULTS_COMMAND, (runIds?: unknown) => {
      ResultsPanel.createOrShow(uri, deps, runIds);
    }),
    vscode.window.registerWebviewPanelSerializer(MonitorPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        panel.webview.options = webviewOptions(uri);
        MonitorPanel.revive(panel, uri, deps);
      },
    }),
    vscode.window.registerWebviewPanelSerializer(ResultsPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
        panel.webview.options = webviewOptions(uri);
        ResultsPanel.revive(panel, uri, deps);
      },
    }),
    vscode.window.registerWebviewViewProvider(ExperimentViewProvider.viewType, experiment),
  );
  registerTryModel(context, runManager);
  return { monitor: () => MonitorPanel.currentPanel, results: () => ResultsPanel.currentPanel, experiment };
}
