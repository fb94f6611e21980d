/**
 * One log line and one metric observation per BBB API call.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../../log.ts";
import type { Metrics } from "../metrics.ts";
import { outcomeOf } from "../responses.ts";
import type { AppEnv } from "./env.ts";

const API = "/bigbluebutton/api/";

/**
 * After the call: count it (`bbblb_api_requests_total`, the latency histogram, by call label and returncode) and
 * log one line: call, meetingID, server, tenant, HTTP status, returncode and messageKey, duration in ms
 * (`checksumError` at `warn`, the rest at `info`). Never a secret, a password or a checksum. The line is built
 * only when the logger writes that level.
 *
 * @param callLabel the metric label of a call name (a fixed set, so a scanner cannot grow the labels)
 */
export function accessLog(
  options: { log: Logger; metrics: Metrics; callLabel: (call: string) => string },
): MiddlewareHandler<AppEnv> {
  const { log, metrics, callLabel } = options;
  return async (c, next) => {
    const started = performance.now();
    await next();
    const res = c.res;
    const outcome = await outcomeOf(res);
    const redirect = res.status >= 300 && res.status < 400;
    const call = c.req.path.slice(API.length) || "index";
    const elapsed = performance.now() - started;
    metrics.observeApiCall(
      callLabel(call),
      outcome.returncode ?? (redirect ? "redirect" : "none"),
      elapsed / 1000,
    );
    const level = outcome.messageKey === "checksumError" ? "warn" : "info";
    if (log.enabled?.(level) === false) return;
    log[level]("api", {
      call,
      meetingID: c.req.query("meetingID"),
      server: c.get("server"),
      tenant: c.get("tenant"),
      status: res.status,
      returncode: outcome.returncode,
      messageKey: outcome.messageKey,
      ms: Math.round(elapsed * 10) / 10,
    });
  };
}
