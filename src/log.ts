/**
 * A small structured logger writing one line per event to stderr. Callers pass fields, never secrets.
 *
 * @module
 */

/** Log levels, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Fields of a log line: plain values only. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

// deno-lint-ignore no-control-regex
const NEEDS_QUOTES = /[\s"=\u0000-\u001f\u007f-\u009f]/;

/** Where bbblb writes its log lines. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. @default "info" */
  level?: LogLevel;
  /** `text` (`LEVEL msg key=value …`) or one JSON object per line. @default "text" */
  format?: "text" | "json";
  /** Where lines go. @default a line on stderr */
  write?: (line: string) => void;
}

/** A logger that writes one line per event. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const format = options.format ?? "text";
  const write = options.write ?? ((line: string) => console.error(line));
  const log = (level: LogLevel) => (msg: string, fields: LogFields = {}) => {
    if (ORDER[level] < min) return;
    const time = new Date().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level, msg, ...fields }));
    } else {
      const rest = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        // Quote values with spaces, quotes, = or control characters (JSON escapes them), so one value can never
        // forge another field, another line, or terminal control sequences.
        .map(([k, v]) => `${k}=${typeof v === "string" && NEEDS_QUOTES.test(v) ? JSON.stringify(v) : v}`);
      write([time, level.toUpperCase(), msg, ...rest].join(" "));
    }
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger({ write: () => {} });
