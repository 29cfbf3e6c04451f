/**
 * `slimlab run nb.ipynb ...`: executes notebooks cell by cell through the
 * same CellRunner and display path as the kernel, and writes the executed
 * notebooks (nbformat 4), signed as trusted with `jupyter trust` so that
 * classic Notebook shows their charts. Each notebook runs in a child process
 * of its own (a fresh namespace, a hard timeout); the first failing cell
 * stops the run. While a notebook runs, stderr says which cell it is on.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { SlimlabError } from "../../plugins/core/errors";
import { CellRunner } from "../kernel";
import { builtinsFor, prepare } from "../startup";
import { packageRoot } from "../modules";
import { trustNotebooks } from "./trust";

type Output = Record<string, unknown> & { output_type: string };
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
  metadata?: Record<string, unknown>;
}
interface Notebook {
  cells: Cell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** Reads a notebook; throws E_FILE for a missing file or one that is not nbformat 4. */
export function readNotebook(file: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new SlimlabError("E_FILE", `${file}: not a readable notebook (${(e as Error).message})`);
  }
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) throw new SlimlabError("E_FILE", `${file}: nbformat ${nb.nbformat}; slimlab runs nbformat 4 notebooks`);
  return nb;
}

/** Splits text into nbformat's list-of-lines form. */
function lines(text: string): string[] {
  return text.split(/(?<=\n)/);
}

/** Writes `data` to `file` through a temporary file and a rename, so readers never see half a file. */
export function writeAtomic(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export interface RunOneResult {
  ok: boolean;
  failedCell?: number;
  error?: string;
  seconds: number;
}

/** The line a `run-one` child writes to stderr as each code cell starts; the parent turns it into a progress line. */
export const PROGRESS_PREFIX = "slimlab-progress ";

/**
 * Executes one notebook in this process and writes the executed copy to `outFile`.
 * @param onCell told as each code cell starts: its number among the code cells and their count
 */
export async function runNotebookInProcess(file: string, outFile: string, onCell: (n: number, of: number) => void = () => undefined): Promise<RunOneResult> {
  const nb = readNotebook(file);
  const codeCells = nb.cells.filter((c) => c.cell_type === "code").length;
  const t0 = Date.now();
  let outputs: Output[] = [];
  let clearPending = false;
  const push = (o: Output) => {
    if (clearPending) {
      outputs.length = 0;
      clearPending = false;
    }
    const last = outputs[outputs.length - 1];
    if (o.output_type === "stream" && last?.output_type === "stream" && last.name === o.name) {
      last.text = `${last.text}${o.text}`;
    } else {
      outputs.push(o);
    }
  };
  const byId = new Map<string, Output[]>();
  const builtins = builtinsFor(await prepare());
  const runner = new CellRunner(
    path.dirname(path.resolve(file)),
    {
      stream: (name, text) => push({ output_type: "stream", name, text }),
      display: (type, content) => {
        const id = (content.transient as { display_id?: string } | undefined)?.display_id;
        if (type === "clear_output") {
          if (content.wait) clearPending = true;
          else outputs.length = 0;
          return;
        }
        const out: Output = { output_type: "display_data", data: content.data, metadata: content.metadata ?? {} };
        if (type === "update_display_data") {
          for (const o of byId.get(id ?? "") ?? []) o.data = content.data;
          return;
        }
        push(out);
        if (id) byId.set(id, [...(byId.get(id) ?? []), out]);
      },
    },
    builtins,
  );
  let count = 0;
  let result: RunOneResult = { ok: true, seconds: 0 };
  for (let i = 0; i < nb.cells.length; i++) {
    const cell = nb.cells[i];
    if (cell.cell_type !== "code") continue;
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    outputs = [];
    cell.outputs = outputs;
    cell.execution_count = ++count;
    if (src.trim() === "") continue;
    onCell(count, codeCells);
    const out = await runner.run(src, count);
    for (const text of out.pages) push({ output_type: "display_data", data: { "text/plain": text }, metadata: {} });
    if (out.result) push({ output_type: "execute_result", execution_count: count, data: out.result, metadata: {} });
    if (!out.ok && out.error) {
      push({ output_type: "error", ename: out.error.ename, evalue: out.error.evalue, traceback: out.error.traceback });
      result = { ok: false, failedCell: i, error: `${out.error.ename}: ${out.error.evalue}`, seconds: 0 };
      break;
    }
  }
  for (const c of nb.cells) {
    if (c.cell_type !== "code") continue;
    c.outputs = (c.outputs ?? []).map((o) => (o.output_type === "stream" ? { ...o, text: lines(String(o.text)) } : o));
    c.outputs ??= [];
    if (c.execution_count === undefined) c.execution_count = null;
  }
  nb.metadata.kernelspec = { name: "slimlab", display_name: "TypeScript (slimlab)", language: "typescript" };
  writeAtomic(outFile, JSON.stringify(nb, null, 1) + "\n");
  return { ...result, seconds: (Date.now() - t0) / 1000 };
}

/** Lists the notebooks named by `args` (files, or folders holding .ipynb files), sorted. */
export function collectNotebooks(args: string[]): string[] {
  const files: string[] = [];
  for (const a of args) {
    if (!fs.existsSync(a)) throw new SlimlabError("E_FILE", `slimlab run: no such notebook or folder ${JSON.stringify(a)}`);
    if (fs.statSync(a).isDirectory()) {
      files.push(...fs.readdirSync(a).filter((f) => f.endsWith(".ipynb")).sort().map((f) => path.join(a, f)));
    } else {
      files.push(a);
    }
  }
  if (files.length === 0) throw new SlimlabError("E_FILE", `slimlab run: no .ipynb files in ${args.join(", ")}`);
  return files;
}

/** "02-acceleration-and-quantization-workflow.ipynb" → "02-acceleration-and-quan…": short enough for a progress line. */
export function shortName(file: string, max = 24): string {
  const name = path.basename(file).replace(/\.ipynb$/, "");
  return name.length > max ? `${name.slice(0, max - 1)}…` : name;
}

/** 42 → "42s", 192 → "3m12s". */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** How often a long cell is reported as still running. */
export const HEARTBEAT_MS = 30_000;

interface ChildOutcome {
  code: number | null;
  timedOut: boolean;
  lastLine: string;
}

/** Runs `slimlab run-one file outFile`, turning its cell lines into progress lines on `log`. */
function runChild(file: string, outFile: string, timeoutSec: number, log: (s: string) => void, heartbeatMs: number): Promise<ChildOutcome> {
  const label = `[${shortName(file)}]`;
  const t0 = Date.now();
  const child = spawn(process.execPath, [path.join(packageRoot(), "bin", "slimlab.js"), "run-one", file, outFile], {
    stdio: ["ignore", "inherit", "pipe"],
    // As jupyter_server tells its kernels: the untrusted-figure hint names the file.
    env: { ...process.env, JPY_SESSION_NAME: outFile },
  });
  let cell = "";
  let lastReport = Date.now();
  let lastLine = "";
  let pending = "";
  const report = (still: boolean) => {
    lastReport = Date.now();
    log(`${label} cell ${cell} (${duration((Date.now() - t0) / 1000)}${still ? ", still running" : ""})`);
  };
  const onLine = (line: string) => {
    if (line.startsWith(PROGRESS_PREFIX)) {
      cell = line.slice(PROGRESS_PREFIX.length).trim();
      report(false);
    } else if (line.trim() !== "") {
      lastLine = line;
    }
  };
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    const parts = (pending + chunk).split("\n");
    pending = parts.pop() ?? "";
    parts.forEach(onLine);
  });
  const beat = setInterval(() => {
    if (cell && Date.now() - lastReport >= heartbeatMs) report(true);
  }, Math.min(heartbeatMs, 5000));
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutSec * 1000);
  return new Promise((resolve) => {
    child.on("error", (e) => {
      lastLine = `could not run the notebook's process: ${e.message}`;
    });
    child.on("close", (code) => {
      clearInterval(beat);
      clearTimeout(killer);
      if (pending) onLine(pending);
      resolve({ code, timedOut, lastLine });
    });
  });
}

/**
 * Runs each notebook in a child process (`slimlab run-one`), in order,
 * stopping at the first failure, and signs the executed copies as trusted.
 * Resolves to the process exit code.
 */
export async function runNotebooks(files: string[], outDir: string, timeoutSec: number, log: (s: string) => void, heartbeatMs = HEARTBEAT_MS): Promise<number> {
  const untrusted: string[] = [];
  let why = "";
  const trust = (outFile: string): string => {
    const t = trustNotebooks([outFile]);
    if (t.trusted) return "trusted";
    untrusted.push(outFile);
    why = t.why;
    return "not trusted";
  };
  const finish = (status: number): number => {
    if (untrusted.length > 0) log(`not trusted: ${why}; classic Notebook hides their charts until you run: jupyter trust ${untrusted.join(" ")}`);
    return status;
  };
  for (const file of files) {
    const outFile = path.join(outDir, path.basename(file));
    const t0 = Date.now();
    // A copy left by an earlier run must not pass for this run's.
    fs.rmSync(outFile, { force: true });
    const r = await runChild(file, outFile, timeoutSec, log, heartbeatMs);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (r.timedOut) {
      log(`FAIL ${file}: timed out after ${timeoutSec} s (raise --timeout)`);
      return finish(1);
    }
    if (r.code !== 0) {
      log(`FAIL ${file} (${secs} s): ${r.lastLine}`);
      if (fs.existsSync(outFile)) log(`     executed copy with the error (${trust(outFile)}): ${outFile}`);
      return finish(1);
    }
    log(`ok   ${file} (${secs} s) -> ${outFile} (${trust(outFile)})`);
  }
  return finish(0);
}
