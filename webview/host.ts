/**
 * The webview's side of the exchange with the extension host: typed posts, request/reply with per-op result
 * validation, and the UI state that survives the view being hidden and reloaded (getState/setState). Only UI state
 * is kept here (what is on screen, drafts, scroll positions); everything about the session comes from the host.
 */
import { VIEW_OPS, type FromWebview, type ReplyError, type ReplyOk, type ViewArgs, type ViewError, type ViewOp, type ViewResult } from './messages.js';

interface VsCodeApi {
  postMessage(m: FromWebview): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export const post = (m: FromWebview): void => api.postMessage(m);

/** A failed request: the host's plain words, and the form field they belong to. */
export class RequestError extends Error {
  constructor(readonly error: ViewError) {
    super(error.message);
  }
}

interface Waiting {
  op: ViewOp;
  resolve: (m: ReplyOk) => void;
  reject: (e: RequestError) => void;
}

let nextReqId = 1;
const waiting = new Map<number, Waiting>();

/** One typed request to the host; rejects with a RequestError in plain words. */
export function request<K extends ViewOp>(op: K, args: ViewArgs<K>): Promise<ViewResult<K>> {
  const reqId = nextReqId++;
  return new Promise<ViewResult<K>>((resolve, reject) => {
    waiting.set(reqId, { op, resolve: (m) => resolve(m.result as ViewResult<K>), reject });
    post({ type: 'request', reqId, op, args } as FromWebview);
  });
}

/** Hands a reply to its request (the reply was validated on arrival; its op must be the request's). */
export function settle(m: ReplyOk | ReplyError): void {
  const w = waiting.get(m.reqId);
  if (!w) return;
  waiting.delete(m.reqId);
  if (!m.ok) w.reject(new RequestError(m.error));
  else if (m.op === w.op && VIEW_OPS[w.op].result(m.result)) w.resolve(m);
  else w.reject(new RequestError({ message: 'The extension answered something unexpected.', field: null }));
}

// ---- UI state ----

export type Page = 'home' | 'conversation' | 'account';

export interface UiState {
  /** Whose UI state this is: another user's page and drafts are not restored. */
  user: string | null;
  page: Page;
  peer: string | null;
  /** Unsent text per conversation (lower-case peer). */
  drafts: Record<string, string>;
  /** Distance from the bottom of each conversation's message list, in pixels. */
  scroll: Record<string, number>;
  authMode: 'login' | 'signup';
  search: string;
  fetchCount: number | null;
}

const DEFAULT_UI: UiState = { user: null, page: 'home', peer: null, drafts: {}, scroll: {}, authMode: 'login', search: '', fetchCount: null };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const recordOf = <T>(v: unknown, ok: (x: unknown) => x is T): Record<string, T> => {
  const out: Record<string, T> = {};
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) if (ok(x)) out[k] = x;
  return out;
};

/** The saved UI state, field by field (anything unexpected falls back to the default). */
export function loadUi(): UiState {
  const s = api.getState();
  if (!isRecord(s)) return { ...DEFAULT_UI };
  const str = (v: unknown): v is string => typeof v === 'string';
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  return {
    user: str(s['user']) ? s['user'] : null,
    page: s['page'] === 'conversation' || s['page'] === 'account' ? s['page'] : 'home',
    peer: str(s['peer']) ? s['peer'] : null,
    drafts: recordOf(s['drafts'], str),
    scroll: recordOf(s['scroll'], num),
    authMode: s['authMode'] === 'signup' ? 'signup' : 'login',
    search: str(s['search']) ? s['search'] : '',
    fetchCount: num(s['fetchCount']) ? s['fetchCount'] : null,
  };
}

let saveTimer: ReturnType<typeof setTimeout> | undefined;
/** Saves soon (typing and scrolling save often). */
export function saveUi(ui: UiState): void {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => api.setState(ui), 150);
}
export function saveUiNow(ui: UiState): void {
  clearTimeout(saveTimer);
  api.setState(ui);
}
