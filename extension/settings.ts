/** The extension's settings (contributes.configuration in package.json), read in one place. */
import * as vscode from 'vscode';
import type { Protocol } from '../protocol/codec.js';

export type NotifyMode = 'all' | 'whenHidden' | 'off';

export interface Settings {
  host: string;
  port: number;
  protocol: Protocol;
  tls: boolean;
  autoConnect: boolean;
  autoStartServer: boolean;
  fetchBatchSize: number;
  notifications: NotifyMode;
  nodePath: string;
  databasePath: string;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('jochat');
  return {
    host: c.get<string>('server.host', '127.0.0.1'),
    port: c.get<number>('server.port', 5000),
    protocol: c.get<Protocol>('server.protocol', 'binary'),
    tls: c.get<boolean>('server.tls', false),
    autoConnect: c.get<boolean>('autoConnect', true),
    autoStartServer: c.get<boolean>('server.autoStart', false),
    fetchBatchSize: c.get<number>('fetchBatchSize', 20),
    notifications: c.get<NotifyMode>('notifications', 'whenHidden'),
    nodePath: c.get<string>('server.nodePath', 'node'),
    databasePath: c.get<string>('server.databasePath', ''),
  };
}

/** Settings whose change means a new connection. */
export const CONNECTION_SETTINGS = ['jochat.server.host', 'jochat.server.port', 'jochat.server.protocol', 'jochat.server.tls'];

export const serverAddress = (s: Pick<Settings, 'host' | 'port'>): string =>
  s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
