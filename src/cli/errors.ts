/**
 * The error every subcommand throws for a mistake the operator can fix; `main.ts` prints its message as one
 * line on stderr and exits non-zero.
 *
 * @module
 */

/** A failure of a subcommand, with a sentence for the operator. */
export class CliError extends Error {
  /** The process exit status. */
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
