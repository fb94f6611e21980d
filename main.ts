/**
 * Entry point of the bbblb binary: runs the command line (`src/cli/program.ts`) and turns its outcome into an
 * exit status: 0 done, 2 a usage error or a bad setting, 1 refused or failed. Every error is one line on stderr.
 *
 * @module
 */
import { CommanderError } from "commander";
import { ConfigError, ConfigUnreadableError } from "./src/config.ts";
import { CliError } from "./src/cli/errors.ts";
import { program } from "./src/cli/program.ts";
import { StoreError } from "./src/store/servers.ts";
import { storeProblem } from "./src/store/kv.ts";
import { flushLog } from "./src/log.ts";

/** Run the command line and return the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    await program().parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    flushLog(); // the log lines before the error come first

    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors (printed as one line by commander) exit 2
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof CliError) {
      console.error(`bbblb: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof ConfigUnreadableError) {
      console.error(`bbblb: ${e.message}`);
      return 1;
    }
    if (e instanceof ConfigError || e instanceof StoreError) {
      console.error(`bbblb: ${e.message}`);
      return 2;
    }
    const problem = storeProblem(e);
    if (problem !== null) {
      console.error(`bbblb: stopped: ${problem}; what was done before is kept`);
      return 1;
    }
    console.error(`bbblb: ${(e as Error)?.message ?? e}`);
    return 1;
  }
}

if (import.meta.main) {
  const status = await main(Deno.args);
  // Deno.exit, not a return: a store operation abandoned by storeAnswers must not keep the process alive.
  flushLog();
  Deno.exit(status);
}
