/**
 * The optional admin token (`--admin-token`) in front of the operator endpoints.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { bearerOf, tokenMatches, unauthorized } from "../admin.ts";

/**
 * Require `Authorization: Bearer <token>` (compared in constant time); `null` leaves the endpoint open.
 * Answers 401 otherwise.
 */
export function adminToken(token: string | null): MiddlewareHandler {
  return async (c, next) => {
    if (token !== null && !tokenMatches(token, bearerOf(c.req.raw.headers.get("authorization")))) {
      return unauthorized();
    }
    await next();
  };
}
