/**
 * The `slimlab` command:
 *   slimlab install [--user | --sys-prefix | --prefix P]   register the Jupyter kernelspec
 *   slimlab uninstall                                       remove it
 *   slimlab run <nb.ipynb | folder>... [--out DIR] [--timeout S] [--full]   execute notebooks headlessly
 *   slimlab kernel <connection_file>                        what Jupyter runs
 */
import * as fs from "fs";
import { isSlimlabError, SlimlabError } from "../../plugins/core/errors";
import { realExit } from "../guard";
import { startKernel } from "../main";
import { install, parseScope, uninstall } from "./install";
import { collectNotebooks, PROGRESS_PREFIX, runNotebookInProcess, runNotebooks } from "./runner";

const USAGE = `usage:
  slimlab install [--user | --sys-prefix | --prefix P]
  slimlab uninstall
  slimlab run <notebook.ipynb | folder>... [--out DIR] [--timeout SECONDS per notebook, default 1800, 7200 with --full] [--full]
  slimlab kernel <connection_file>`;

/** Writes to the real stderr even when a cell's output capture has replaced process.stderr.write. */
function say(s: string): void {
  fs.writeSync(2, `${s}\n`);
}

function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new SlimlabError("E_ARG", `${name} needs a value`);
  args.splice(i, 2);
  return v;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "install": {
      const where = install(parseScope(args));
      console.log(`installed kernelspec slimlab (TypeScript (slimlab)) in ${where}`);
      return 0;
    }
    case "uninstall":
      uninstall();
      console.log("removed kernelspec slimlab");
      return 0;
    case "kernel":
      if (!args[0]) throw new SlimlabError("E_ARG", "slimlab kernel: missing the connection file");
      await startKernel(args[0]);
      return -1; // keeps running
    case "run": {
      const out = takeOption(args, "--out") ?? "out/notebooks";
      const full = args.includes("--full");
      // Per notebook: quick mode must stay small; a full-mode notebook trains for up to an hour here.
      const timeout = Number(takeOption(args, "--timeout") ?? (full ? "7200" : "1800"));
      if (!(timeout > 0)) throw new SlimlabError("E_ARG", `--timeout got ${timeout}; expected seconds > 0`);
      if (full) process.env.SLIMLAB_FULL = "1";
      const files = args.filter((a) => a !== "--full");
      const unknown = files.find((a) => a.startsWith("--"));
      if (unknown) throw new SlimlabError("E_ARG", `slimlab run: unknown option ${JSON.stringify(unknown)}; allowed: --out DIR, --timeout SECONDS, --full`);
      return runNotebooks(collectNotebooks(files), out, timeout, say);
    }
    case "run-one": {
      const r = await runNotebookInProcess(args[0], args[1], (n, of) => say(`${PROGRESS_PREFIX}${n}/${of}`));
      if (!r.ok) say(`cell ${(r.failedCell ?? 0) + 1} failed: ${r.error}`);
      return r.ok ? 0 : 1;
    }
    case undefined:
    case "--help":
    case "-h":
    case "help":
      say(USAGE);
      return 0;
    default:
      say(`slimlab: unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
      return 2;
  }
}

export function run(argv: string[]): void {
  main(argv).then(
    (code) => {
      if (code >= 0) realExit(code);
    },
    (e) => {
      say(isSlimlabError(e) ? `slimlab: ${e.message}` : String((e as Error).stack ?? e));
      realExit(isSlimlabError(e) ? 2 : 1);
    },
  );
}
