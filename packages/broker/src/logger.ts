/**
 * A tiny structured logger: one logfmt (default) or JSON line per event on stderr.
 *
 * Why not pino: the broker has no runtime dependency besides its own packages, and the
 * log volume of a broker is low (connections, errors, lifecycle), so a synchronous write of
 * one preformatted line is cheap enough. Hot paths (Produce, Fetch) must not log per request.
 *
 * The level comes from the caller, else from `TRIBUTARY_LOG_LEVEL`, else `info`.
 * `TRIBUTARY_LOG_FORMAT=json` switches to JSON lines.
 */
export const LogLevels = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: 100 } as const;
export type LogLevel = keyof typeof LogLevels;

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. `{ component: 'network' }`). */
  child(fields: LogFields): Logger;
  isLevelEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel | undefined;
  format?: 'logfmt' | 'json' | undefined;
  /** Where lines go; defaults to a synchronous write to stderr. Tests capture lines here. */
  sink?: ((line: string) => void) | undefined;
  /** Fields on every line. */
  base?: LogFields | undefined;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(LogLevels, value);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const envLevel = process.env['TRIBUTARY_LOG_LEVEL'];
  const level: LogLevel = options.level ?? (isLogLevel(envLevel) ? envLevel : 'info');
  const format = options.format ?? (process.env['TRIBUTARY_LOG_FORMAT'] === 'json' ? 'json' : 'logfmt');
  const sink = options.sink ?? ((line: string) => process.stderr.write(line + '\n'));
  return new LineLogger(LogLevels[level], level, format, sink, options.base ?? {});
}


class LineLogger implements Logger {
  constructor(
    private readonly threshold: number,
    readonly level: LogLevel,
    private readonly format: 'logfmt' | 'json',
    private readonly sink: (line: string) => void,
    private readonly base: LogFields,
  ) {}

  isLevelEnabled(level: LogLevel): boolean {
    return LogLevels[level] >= this.threshold;
  }

  trace(msg: string, fields?: LogFields): void { this.emit('trace', msg, fields); }
  debug(msg: string, fields?: LogFields): void { this.emit('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.emit('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.emit('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.emit('error', msg, fields); }

  child(fields: LogFields): Logger {
    return new LineLogger(this.threshold, this.level, this.format, this.sink, { ...this.base, ...fields });
  }

  private emit(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (LogLevels[level] < this.threshold) return;
    const record: LogFields = { time: new Date().toISOString(), level, msg, ...this.base, ...fields };
    this.sink(this.format === 'json' ? JSON.stringify(record, jsonReplacer) : toLogfmt(record));
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    // Stable error codes (TRIB_ERR_*, STORAGE_*) are what alerts match on.
    const code = (value as { code?: unknown }).code;
    return code === undefined ? { name: value.name, message: value.message, stack: value.stack } : { name: value.name, code, message: value.message, stack: value.stack };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function toLogfmt(record: LogFields): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    parts.push(`${key}=${logfmtValue(value)}`);
  }
  return parts.join(' ');
}

function logfmtValue(value: unknown): string {
  let text: string;
  if (value instanceof Error) text = value.stack ?? `${value.name}: ${value.message}`;
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'object' && value !== null) text = JSON.stringify(value, jsonReplacer);
  else text = String(value);
  // Quote anything a logfmt reader would split on; newlines (stack traces) are escaped so
  // one event stays one line.
  if (text === '' || /[\s"=\\]/.test(text)) return JSON.stringify(text);
  return text;
}

/** A logger that drops everything; the default for in-process tests that do not care. */
export const silentLogger: Logger = createLogger({ level: 'silent', sink: () => {} });
