/**
 * A small structured logger writing one line per event to stderr. Callers pass fields, never secrets.
 *
 * @module
 */

/** Log levels, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const LABEL: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

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
  /** Whether lines of `level` are written (so a caller can skip building a line that would be dropped). */
  enabled?(level: LogLevel): boolean;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. @default "info" */
  level?: LogLevel;
  /** `text` (`LEVEL msg key=value …`) or one JSON object per line. @default "text" */
  format?: "text" | "json";
  /** Where lines go. @default a line on stderr (see {@linkcode writeStderr}) */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();
let pending: string[] = [];
let pendingChars = 0;
let flushTimer: ReturnType<typeof setTimeout> | null = null;

/**
 * Write one line to stderr. Lines are collected and written together at the end of the current turn of the event
 * loop (or at once past 64 KiB, and on exit): one write per line cost about 30 µs of CPU, the largest single
 * cost of a join (measured). A process killed with SIGKILL loses at most the lines of its last turn. A stderr
 * that cannot be written (closed) drops the lines; logging never fails a request.
 */
export function writeStderr(line: string): void {
  pending.push(line);
  pendingChars += line.length;
  if (pendingChars > 64 * 1024) {
    flushLog();
  } else if (flushTimer === null) {
    const timer = setTimeout(flushLog, 0);
    Deno.unrefTimer(timer); // a pending line never keeps the process alive; exit flushes it
    flushTimer = timer;
  }
}

/** Write the collected lines now (before exiting, before printing an error that must come after them). */
export function flushLog(): void {
  if (flushTimer !== null) {
    clearTimeout(flushTimer);
    flushTimer = null;
  }
  if (pending.length === 0) return;
  const bytes = encoder.encode(pending.join("\n") + "\n");
  pending = [];
  pendingChars = 0;
  try {
    for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
  } catch {
    // nowhere to log to
  }
}

globalThis.addEventListener("unload", flushLog);

/** A logger that writes one line per event. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const format = options.format ?? "text";
  const write = options.write ?? writeStderr;
  const log = (level: LogLevel) => (msg: string, fields: LogFields = {}) => {
    if (ORDER[level] < min) return;
    const time = new Date().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level, msg, ...fields }));
    } else {
      let line = `${time} ${LABEL[level]} ${msg}`;
      for (const k in fields) {
        const v = fields[k];
        if (v === undefined) continue;
        // Quote values with spaces, quotes, = or control characters (JSON escapes them), so one value can never
        // forge another field, another line, or terminal control sequences.
        line += ` ${k}=${typeof v === "string" && NEEDS_QUOTES.test(v) ? JSON.stringify(v) : v}`;
      }
      write(line);
    }
  };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    enabled: (level) => ORDER[level] >= min,
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger({ write: () => {} });
