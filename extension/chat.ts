/**
 * The window's one JoChat connection and the state everything else renders (status bar, badge, view): connection
 * state, who is logged in, and the counts. Commands and the view act through it.
 */
import * as vscode from 'vscode';
import { JoChatClient, type ConnectionState } from '../protocol/client.js';
import type { Args, Counts, Event, OpName, Result, SessionEndReason } from '../protocol/ops.js';
import type { TokenStore } from './secrets.js';
import { serverAddress, type Settings } from './settings.js';

export interface ChatState {
  server: string;
  connection: ConnectionState;
  username: string | undefined;
  counts: Counts;
}

const NO_COUNTS: Counts = { pending: 0, unread: 0, byPeer: [] };

/** What a person is told when the server ends their session. */
const ENDED: Record<SessionEndReason, string> = {
  signed_in_elsewhere: 'You were logged out of JoChat because your account logged in somewhere else.',
  account_deleted: 'Your JoChat account was deleted.',
  server_shutdown: 'The JoChat server is shutting down. JoChat will reconnect and resume your session when it is back.',
  idle: 'The JoChat connection was idle for too long; reconnecting.',
};

export class ChatService implements vscode.Disposable {
  private client: JoChatClient | undefined;
  private settings: Settings;
  private _state: ChatState;
  private readonly changed = new vscode.EventEmitter<ChatState>();
  private readonly events = new vscode.EventEmitter<Event>();
  /** Fires with the new state whenever anything in it changes. */
  readonly onDidChange = this.changed.event;
  /** Every server push, after the state has taken it into account. */
  readonly onEvent = this.events.event;

  constructor(
    settings: Settings,
    private readonly tokens: TokenStore,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.settings = settings;
    this._state = { server: serverAddress(settings), connection: 'offline', username: undefined, counts: NO_COUNTS };
  }

  get state(): ChatState {
    return this._state;
  }

  /** Connects (resuming a saved session) unless already connected or connecting. */
  async connect(): Promise<void> {
    const client = this.client ?? (await this.createClient());
    await client.connect();
  }

  /** New connection settings: drop the old connection and connect with the new ones. */
  async reconfigure(settings: Settings): Promise<void> {
    this.settings = settings;
    this.client?.close();
    this.client = undefined;
    this.update({ server: serverAddress(settings), connection: 'offline', username: undefined, counts: NO_COUNTS });
    await this.connect();
  }

  private async createClient(): Promise<JoChatClient> {
    const s = this.settings;
    const address = serverAddress(s);
    const client = new JoChatClient({
      host: s.host,
      port: s.port,
      protocol: s.protocol,
      tls: s.tls,
      clientName: 'jochat-vscode',
    });
    this.client = client;
    client.setToken(await this.tokens.get(address));
    client.on('state', (connection) => {
      this.log.info(`connection ${connection} (${address}, ${s.protocol})`);
      this.update({ connection });
    });
    client.on('token', (token) => {
      void this.tokens.set(address, token);
    });
    client.on('session', (username, reason) => {
      this.log.info(username ? `logged in as ${username}` : `logged out${reason ? ` (${reason})` : ''}`);
      this.update({ username, counts: NO_COUNTS });
      if (username) void this.refreshCounts();
    });
    client.on('event', (ev) => this.onServerEvent(ev));
    client.on('log', (level, text) => this.log[level](text));
    return client;
  }

  private onServerEvent(ev: Event): void {
    this.log.trace(`event ${ev.event}`);
    if (ev.event === 'counts') this.update({ counts: ev.data });
    if (ev.event === 'session_ended') {
      const reason = ev.data.reason as SessionEndReason;
      this.log.warn(`session ended: ${reason}`);
      void vscode.window.showInformationMessage(ENDED[reason] ?? `The JoChat session ended (${reason}).`);
    }
    this.events.fire(ev);
  }

  private update(patch: Partial<ChatState>): void {
    this._state = { ...this._state, ...patch };
    this.changed.fire(this._state);
  }

  private requireClient(): JoChatClient {
    if (!this.client) throw new Error('JoChat is not connected to its server.');
    return this.client;
  }

  async refreshCounts(): Promise<void> {
    try {
      this.update({ counts: await this.request('counts', {}) });
    } catch (e) {
      this.log.warn(`could not read the counts: ${(e as Error).message}`);
    }
  }

  request<O extends OpName>(op: O, args: Args<O>): Promise<Result<O>> {
    return this.requireClient().request(op, args);
  }

  /** Takes pending messages; the reply's `remaining` is the new pending count (no counts event follows a fetch). */
  async fetchPending(limit: number): Promise<Result<'fetch_pending'>> {
    const r = await this.request('fetch_pending', { limit });
    this.update({ counts: { ...this._state.counts, pending: r.remaining } });
    return r;
  }

  async signup(username: string, password: string): Promise<void> {
    await this.requireClient().signup(username, password);
  }

  async login(username: string, password: string): Promise<Result<'login_finish'>> {
    return this.requireClient().login(username, password);
  }

  async logout(): Promise<void> {
    await this.requireClient().logout();
  }

  async deleteAccount(password: string): Promise<void> {
    await this.requireClient().deleteAccount(password);
  }

  /** Sends through the client's outbox: kept and re-sent across reconnects until the server acknowledges it. */
  send(to: string, text: string): Promise<Result<'send'>> {
    return this.requireClient().send(to, text);
  }

  dispose(): void {
    this.client?.close();
    this.changed.dispose();
    this.events.dispose();
  }
}
