/**
 * Rate limits: token buckets (sign-ups per address, sends per session) and failure back-off (login attempts per
 * account and per address, with a delay that doubles after a few free failures). All in memory: a restart forgets
 * them, which only ever favours the client.
 */

/** `rate` tokens per second, holding at most `burst`. A rate of 0 turns the limit off. */
export class Buckets {
  private readonly buckets = new Map<string | number, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  /** Takes a token: 0 when allowed, else the milliseconds until one is there. */
  take(key: string | number, now: number): number {
    if (this.rate === 0) return 0;
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.rate) * 1000);
  }

  /** Forgets buckets that have refilled completely (bounded memory). */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
  }
}

/**
 * Failures with growing delays: the first `free` failures cost nothing; then each one makes the key wait
 * base·2^n ms (capped) before its next attempt. A key with no failure for `forgetMs` starts over.
 */
export class Backoff {
  private readonly entries = new Map<string, { failures: number; until: number; last: number }>();

  constructor(
    private readonly free: number,
    private readonly baseMs = 1000,
    private readonly maxMs = 15 * 60_000,
    private readonly forgetMs = 15 * 60_000,
  ) {}

  /** 0 when an attempt may go now, else the milliseconds to wait. */
  wait(key: string, now: number): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    if (now - e.last > this.forgetMs && now >= e.until) {
      this.entries.delete(key);
      return 0;
    }
    return Math.max(0, e.until - now);
  }

  fail(key: string, now: number): void {
    const e = this.entries.get(key) ?? { failures: 0, until: 0, last: now };
    e.failures++;
    e.last = now;
    const over = e.failures - this.free;
    if (over > 0) e.until = now + Math.min(this.maxMs, this.baseMs * 2 ** (over - 1));
    this.entries.set(key, e);
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  sweep(now: number): void {
    for (const [k, e] of this.entries) if (now - e.last > this.forgetMs && now >= e.until) this.entries.delete(k);
  }
}

/** Plain words for a wait. */
export function waitWords(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s} second${s === 1 ? '' : 's'}` : `${Math.ceil(s / 60)} minutes`;
}
