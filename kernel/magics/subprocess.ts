/**
 * Runs a shell command for `!cmd`, `%system`, `%sx`, `%%bash` and `%%sh`:
 * in the notebook's working directory, its output streamed to the cell as
 * it comes (or captured), stopped with its whole process group when the
 * user interrupts, and a non-zero exit raised as an error naming the code.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import { StringDecoder } from "string_decoder";
import { SlimlabError } from "../../plugins/core/errors";
import { host } from "../../plugins/core/host";
import { realTimers } from "../cell-scope";
import { currentRuntime } from "../runtime";

/** The shell `!cmd` runs in: bash where there is one (IPython's users expect it), else sh. */
export function defaultShell(): string {
  return ["/bin/bash", "/usr/bin/bash"].find((f) => fs.existsSync(f)) ?? "/bin/sh";
}

export interface ShellRun {
  /** The program (bash, sh) and the script it runs with -c. */
  shell: string;
  script: string;
  /** How the error calls the command (the command itself, or "the %%bash cell"). */
  what: string;
  /** Collect stdout and return it instead of streaming it (%sx). */
  capture?: boolean;
}

/** Python's subprocess.CalledProcessError, as IPython's %%bash raises it: one line, no stack. */
function calledProcessError(what: string, code: number | null, signal: string | null): Error {
  const how = code !== null ? `returned non-zero exit status ${code}` : `was killed by ${signal}`;
  const e = Object.assign(new Error(`Command ${what} ${how}.`), { name: "CalledProcessError", exitCode: code, signal });
  e.stack = `${e.name}: ${e.message}`; // the kernel's frames say nothing about the user's command
  return e;
}

function interrupted(): Error {
  return Object.assign(new Error("interrupted by the user; the command was stopped"), { name: "KeyboardInterrupt" });
}

/** Runs `run.script`; resolves with its stdout when capturing (else ""). */
export function runShell(run: ShellRun): Promise<string> {
  const signal = host().signal();
  if (signal.aborted) return Promise.reject(interrupted());
  const cwd = currentRuntime()?.cwd() ?? process.cwd();
  return new Promise((resolve, reject) => {
    // Its own process group, so an interrupt stops the pipeline, not just the shell.
    const child = spawn(run.shell, ["-c", run.script], { cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let captured = "";
    const out = new StringDecoder("utf8");
    const err = new StringDecoder("utf8");
    const toStdout = (text: string) => {
      if (run.capture) captured += text;
      else if (text) process.stdout.write(text);
    };
    child.stdout.on("data", (d: Buffer) => toStdout(out.write(d)));
    child.stderr.on("data", (d: Buffer) => {
      const text = err.write(d);
      if (text) process.stderr.write(text);
    });
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      kill(child.pid, "SIGINT");
      killTimer = realTimers.setTimeout(() => kill(child.pid, "SIGKILL"), 2000);
    };
    signal.addEventListener("abort", stop, { once: true });
    child.on("error", (e: NodeJS.ErrnoException) => {
      signal.removeEventListener("abort", stop);
      reject(e.code === "ENOENT" ? new SlimlabError("E_FILE", `${run.shell} is not installed here; %%sh runs /bin/sh`) : e);
    });
    child.on("close", (code, sig) => {
      signal.removeEventListener("abort", stop);
      if (killTimer) realTimers.clearTimeout(killTimer);
      toStdout(out.end());
      const rest = err.end();
      if (rest) process.stderr.write(rest);
      if (signal.aborted) reject(interrupted());
      else if (code !== 0) reject(calledProcessError(run.what, code, sig));
      else resolve(captured);
    });
  });
}

/** Signals the process group of `pid` (it may be gone already). */
function kill(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // already ended
  }
}

/** A command for messages: quoted, one line, not too long. */
export function describeCommand(command: string): string {
  const one = command.trim().replace(/\s*\n\s*/g, "; ");
  return JSON.stringify(one.length > 80 ? `${one.slice(0, 77)}...` : one);
}
