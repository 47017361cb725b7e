import type { Args, OpName, Result } from '../../protocol/ops.js';
import type { Connection } from '../connection.js';
import { OpError } from '../errors.js';
import type { Hub } from '../hub.js';
import type { Session } from '../session.js';

/** What a handler gets: the server, the connection, the request id, and work to run after the reply is sent. */
export interface Ctx {
  hub: Hub;
  conn: Connection;
  id: number;
  after: (() => void)[];
}

/** Returned by a handler that replies later by itself (send, after the group commit). */
export const DEFERRED: unique symbol = Symbol('deferred');

export type Handler<O extends OpName> = (ctx: Ctx, args: Args<O>) => Result<O> | typeof DEFERRED;
export type Handlers<K extends OpName> = { [O in K]: Handler<O> };

export function me(ctx: Ctx): Session {
  const s = ctx.conn.session;
  if (!s) throw new OpError('NOT_LOGGED_IN', 'log in first');
  return s;
}

/** Checks an integer argument's range: below `min` is a bad request, above `max` is TOO_MANY. */
export function inRange(name: string, v: number, min: number, max: number): number {
  if (v < min) throw new OpError('BAD_REQUEST', `${name} must be at least ${min}`);
  if (v > max) throw new OpError('TOO_MANY', `${name} must be at most ${max}`);
  return v;
}

/** An upper bound of the bytes a message adds to a reply in either protocol (JSON escaping included). */
export const messageCost = (m: { text: string; from: string; to: string }): number =>
  Buffer.byteLength(JSON.stringify(m.text)) + m.from.length + m.to.length + 120;

/** The part of a frame that a page of messages may fill, leaving room for the rest of the reply. */
export const pageBudget = (ctx: Ctx): number => ctx.hub.config.maxFrame - 4096;
