/**
 * bbblb's operator endpoints beside the BBB API: `GET /healthz` (open, for load balancers and monitors) and
 * the check of the optional admin token that guards `/metrics` and `/status`.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { schemaVersionOf } from "../store/schema.ts";
import { listServers } from "../store/servers.ts";

/** How long `/healthz` waits for the store before it declares it not answering, in ms. */
export const HEALTH_STORE_TIMEOUT_MS = 2000;

/**
 * The health answer: 200 `ok: …` when the store answers and at least one server is online and enabled, else
 * 503 with the reason. Plain text, never cached.
 */
export async function healthz(kv: Deno.Kv, timeoutMs = HEALTH_STORE_TIMEOUT_MS): Promise<Response> {
  let servers;
  try {
    await withTimeout(schemaVersionOf(kv), timeoutMs);
    servers = await withTimeout(listServers(kv), timeoutMs);
  } catch (e) {
    return plain(503, `unhealthy: the store does not answer (${(e as Error)?.message ?? e})`);
  }
  const ready = servers.filter((s) => s.state === "enabled" && s.online);
  if (servers.length === 0) return plain(503, "unhealthy: no server is registered");
  if (ready.length === 0) {
    return plain(503, `unhealthy: none of the ${servers.length} server(s) is online and enabled`);
  }
  return plain(200, `ok: ${ready.length} of ${servers.length} server(s) online and enabled`);
}

/** A plain-text response that no cache keeps. */
export function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(text + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

/**
 * Whether `given` equals the admin token, compared in constant time (over SHA-256 digests, so the length of
 * the token leaks nothing either).
 */
export function tokenMatches(token: string, given: string | undefined | null): boolean {
  if (given === undefined || given === null || given === "") return false;
  const a = createHash("sha256").update(token).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer TOKEN` header, or `undefined`. */
export function bearerOf(header: string | undefined | null): string | undefined {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
}

/** The 401 answer for a missing or wrong admin token. */
export function unauthorized(): Response {
  return plain(401, "unauthorized: this needs the admin token (Authorization: Bearer TOKEN)", {
    "www-authenticate": 'Bearer realm="bbblb"',
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
