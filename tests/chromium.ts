/**
 * Debian's chromium for the browser tests, driven by `playwright-core` (which downloads no browser): a headless
 * browser on a fresh profile, with nothing running in the background.
 *
 * @module
 */
import { type BrowserContext, chromium } from "playwright-core";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** A headless chromium on a fresh profile; `close()` ends it and removes the profile. */
export async function launchChromium(
  options: { args?: string[]; viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = await Deno.makeTempDir({ prefix: "bbblb-chromium-" });
  // A persistent context is how playwright takes a fresh --user-data-dir (it refuses the flag in launch()).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: options.viewport,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...(options.args ?? []),
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      await Deno.remove(profile, { recursive: true });
    },
  };
}
