/**
 * Structured log lines: `time level event key=value ...`, one per event. Values under secret-sounding keys are
 * never printed, whatever a caller passes.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const SECRET_KEY = /pass|proof|token|key|secret|nonce|salt|signature/i;
type Fields = Record<string, string | number | boolean | undefined | null>;

function quote(v: string): string {
  return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
}

export class Logger {
  private readonly min: number;

  constructor(
    level: LogLevel,
    private readonly write: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  ) {
    this.min = LOG_LEVELS.indexOf(level);
  }

  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.min;
  }

  log(level: LogLevel, event: string, fields: Fields = {}): void {
    if (!this.enabled(level)) return;
    let line = `${new Date().toISOString()} ${level} ${event}`;
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      line += ` ${k}=${SECRET_KEY.test(k) ? '[redacted]' : quote(String(v))}`;
    }
    this.write(line);
  }

  debug(event: string, fields?: Fields): void {
    this.log('debug', event, fields);
  }
  info(event: string, fields?: Fields): void {
    this.log('info', event, fields);
  }
  warn(event: string, fields?: Fields): void {
    this.log('warn', event, fields);
  }
  error(event: string, fields?: Fields): void {
    this.log('error', event, fields);
  }
}
