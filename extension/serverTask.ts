/**
 * The `jochat` task type: runs the bundled server (dist/server.js) with a real `node`, so the native SQLite module
 * is never loaded into the editor's own process. "Start Bundled Server" runs the task and waits until the server
 * accepts connections.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Settings } from './settings.js';

export const TASK_TYPE = 'jochat';
export const PROBLEM_MATCHER = '$jochat-server';

export interface JoChatTaskDefinition extends vscode.TaskDefinition {
  type: typeof TASK_TYPE;
  host?: string;
  port?: number;
  db?: string;
}

/** True when something accepts TCP connections at host:port. */
export function isListening(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export class BundledServer implements vscode.TaskProvider, vscode.Disposable {
  private execution: vscode.TaskExecution | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly ended = new vscode.EventEmitter<number | undefined>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly settings: () => Settings,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions.push(
      vscode.tasks.onDidStartTaskProcess((e) => {
        if (e.execution.task.definition.type !== TASK_TYPE) return;
        this.execution = e.execution;
        this.log.info(`bundled server started (pid ${e.processId})`);
        void vscode.commands.executeCommand('setContext', 'jochat.serverRunning', true);
      }),
      vscode.tasks.onDidEndTaskProcess((e) => {
        if (e.execution.task.definition.type !== TASK_TYPE) return;
        if (this.execution === e.execution) this.execution = undefined;
        this.log.info(`bundled server stopped (exit code ${e.exitCode ?? 'none'})`);
        void vscode.commands.executeCommand('setContext', 'jochat.serverRunning', false);
        this.ended.fire(e.exitCode);
      }),
    );
  }

  get running(): boolean {
    return this.execution !== undefined;
  }

  provideTasks(): vscode.Task[] {
    return [this.task({ type: TASK_TYPE })];
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition as JoChatTaskDefinition;
    return def.type === TASK_TYPE ? this.task(def, task.scope) : undefined;
  }

  /** Where the server listens and stores its data for a task definition (settings fill what it leaves out). */
  target(def: JoChatTaskDefinition): { host: string; port: number; db: string } {
    const s = this.settings();
    return {
      host: def.host ?? s.host,
      port: def.port ?? s.port,
      db: def.db ?? (s.databasePath || join(this.context.globalStorageUri.fsPath, 'jochat.db')),
    };
  }

  private task(def: JoChatTaskDefinition, scope?: vscode.Task['scope']): vscode.Task {
    const { host, port, db } = this.target(def);
    const exec = new vscode.ProcessExecution(this.settings().nodePath, [
      this.context.asAbsolutePath(join('dist', 'server.js')),
      '--host',
      host,
      '--port',
      String(port),
      '--db',
      db,
    ]);
    const task = new vscode.Task(
      def,
      scope ?? vscode.workspace.workspaceFolders?.[0] ?? vscode.TaskScope.Workspace,
      'Bundled Server',
      TASK_TYPE,
      exec,
      [PROBLEM_MATCHER],
    );
    task.isBackground = true;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Silent, panel: vscode.TaskPanelKind.Dedicated };
    return task;
  }

  /**
   * Runs the task and resolves once the server accepts connections; rejects with plain words if it exits first.
   * Returns false when a server was already listening there (nothing was started).
   */
  async start(timeoutMs = 20_000): Promise<boolean> {
    const def: JoChatTaskDefinition = { type: TASK_TYPE };
    const { host, port } = this.target(def);
    if (this.running || (await isListening(host, port))) return false;
    let exited: number | undefined | null = null;
    const sub = this.ended.event((code) => (exited = code));
    try {
      await vscode.tasks.executeTask(this.task(def));
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (exited !== null)
          throw new Error(
            `the bundled server stopped (exit code ${exited ?? 'unknown'}); its terminal shows why. ` +
              `Is "${this.settings().nodePath}" a Node.js 20 or newer?`,
          );
        if (await isListening(host, port, 300)) return true;
        await new Promise((r) => setTimeout(r, 150));
      }
      throw new Error(`the bundled server did not start listening on ${host}:${port} within ${timeoutMs / 1000} s`);
    } finally {
      sub.dispose();
    }
  }

  stop(): boolean {
    if (!this.execution) return false;
    this.execution.terminate();
    return true;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.ended.dispose();
  }
}
