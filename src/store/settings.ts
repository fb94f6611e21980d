/**
 * Settings bbblb keeps for itself in the store: the generated API secret, the internal keys for rejoin links
 * and join cookies, and the public URL the running server announced (for the admin CLI's links).
 *
 * @module
 */
import { keys } from "./keys.ts";
import { commitWithRetry } from "./kv.ts";

/**
 * A random key of `bytes` bytes kept under `name`, created on first use. Concurrent first uses agree on one key.
 */
export async function internalKey(kv: Deno.Kv, name: string, bytes = 32): Promise<Uint8Array> {
  for (;;) {
    const entry = await kv.get<Uint8Array>(keys.setting(name));
    if (entry.value) return entry.value;
    const key = crypto.getRandomValues(new Uint8Array(bytes));
    if ((await commitWithRetry(() => kv.atomic().check(entry).set(entry.key, key))).ok) return key;
  }
}

/**
 * The API secrets: those configured, else the one bbblb keeps in the store, generated on the first start.
 *
 * @param announce called once with a newly generated secret, the only time bbblb ever shows a secret
 */
export async function resolveSecrets(
  kv: Deno.Kv,
  configured: readonly string[],
  announce: (secret: string) => void,
): Promise<string[]> {
  if (configured.length > 0) return [...configured];
  for (;;) {
    const entry = await kv.get<string>(keys.setting("secret"));
    if (entry.value) return [entry.value];
    const secret = generateSecret();
    const res = await commitWithRetry(() => kv.atomic().check(entry).set(entry.key, secret));
    if (res.ok) {
      announce(secret);
      return [secret];
    }
  }
}

/** A new random secret: 48 characters from [A-Za-z0-9] (about 285 bits). */
export function generateSecret(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const out: string[] = [];
  while (out.length < 48) {
    for (const b of crypto.getRandomValues(new Uint8Array(64))) {
      if (b < 248 && out.length < 48) out.push(alphabet[b % 62]); // 248 = 4 × 62: no modulo bias
    }
  }
  return out.join("");
}

/** Remember the public URL `serve` runs under, so admin commands build the same links. */
export async function savePublicUrl(kv: Deno.Kv, url: string): Promise<void> {
  const entry = await kv.get<string>(keys.setting("public_url"));
  if (entry.value !== url) await kv.set(entry.key, url);
}

/** The public URL `serve` last ran under, or `null`. */
export async function publicUrlOf(kv: Deno.Kv): Promise<string | null> {
  return (await kv.get<string>(keys.setting("public_url"))).value;
}

/** The generated API secret the store keeps, or `null` (for `bbblb config --show-secrets` only). */
export async function storedSecret(kv: Deno.Kv): Promise<string | null> {
  return (await kv.get<string>(keys.setting("secret"))).value || null;
}
