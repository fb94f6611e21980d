/**
 * The first step of every request: a `Host` header that would shift the path or query bbblb reads is refused.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";

const BAD_HOST = /[/?#@\s\\]/;

/**
 * Refuse (HTTP 400) a request whose `Host` holds `/`, `?`, `#`, `@`, whitespace or `\`: Deno builds the request
 * URL from it, so such a header would shift the path and query bbblb reads. Such a request is malformed HTTP.
 */
export function hostGuard(): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.raw.headers.get("host");
    if (host !== null && BAD_HOST.test(host)) return new Response("bad Host header", { status: 400 });
    await next();
  };
}
