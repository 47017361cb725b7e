import type { ErrorCode, WireError } from '../protocol/ops.js';
import { waitWords } from './limits.js';

/** An operation's refusal: becomes an error response with this code and these plain words. */
export class OpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  toWire(): WireError {
    return { code: this.code, message: this.message, ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }) };
  }
}

export const fail = (code: ErrorCode, message: string): never => {
  throw new OpError(code, message);
};

/** Refuses an attempt that came too soon, saying when to try again. */
export function limit(waitMs: number, what: string): void {
  if (waitMs > 0) throw new OpError('RATE_LIMITED', `${what}; try again in ${waitWords(waitMs)}`, waitMs);
}
