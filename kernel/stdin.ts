/**
 * Reading a line from the user (messaging spec, "Messages on the stdin
 * ROUTER/DEALER channel"): a cell calls `await input("name? ")` (from
 * "slimlab") or the notebook's global `await prompt("name?")`; the kernel
 * sends input_request on stdin and the cell gets the input_reply's value.
 * Only a request made with `allow_stdin: true` may ask; otherwise the call
 * fails at once, as IPython's does.
 */

/** Asks the frontend for a line; rejects when the cell is interrupted (`signal`). */
export type InputHandler = (prompt: string, password: boolean, signal: AbortSignal) => Promise<string>;

/** The notebook's `prompt`, declared for the type checker as an earlier cell's function. */
export const PROMPT_DECLARATION = [
  "/** Asks the user for a line of text over Jupyter's stdin channel; `defaultValue` is given for an empty answer. */",
  "declare function prompt(message?: string, defaultValue?: string): Promise<string>;",
  "",
].join("\n");

/** The error `input()` raises when the frontend takes no input (IPython's StdinNotImplementedError). */
export function stdinNotSupported(): Error {
  return Object.assign(
    new Error("input() was called, but this frontend does not support input requests (its execute_request had allow_stdin: false)"),
    { name: "StdinNotImplementedError" },
  );
}
