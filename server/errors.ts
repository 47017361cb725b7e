import type { ErrorCode, WireError } from '../protocol/ops.js';

/** An operation's refusal: becomes an error response with this code and these plain words. */
export class OpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

export const fail = (code: ErrorCode, message: string): never => {
  throw new OpError(code, message);
};
