/**
 * `slimlab run nb.ipynb ...`: executes notebooks cell by cell through the
 * same CellRunner and display path as the kernel, and writes the executed
 * notebooks (nbformat 4). Each notebook runs in a child process of its own
 * (a fresh namespace, a hard timeout); the first failing cell stops the run.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { SlimlabError } from "../../plugins/core/errors";
import { CellRunner } from "../kernel";
import { builtinsFor, prepare } from "../startup";
import { packageRoot } from "../modules";

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

/** Executes one notebook in this process and writes the executed copy to `outFile`. */
export async function runNotebookInProcess(file: string, outFile: string): Promise<RunOneResult> {
  const nb = readNotebook(file);
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
    const out = await runner.run(src);
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

/**
 * Runs each notebook in a child process (`slimlab run-one`), in order,
 * stopping at the first failure. Returns the process exit code.
 */
export function runNotebooks(files: string[], outDir: string, timeoutSec: number, log: (s: string) => void): number {
  for (const file of files) {
    const outFile = path.join(outDir, path.basename(file));
    const t0 = Date.now();
    const child = spawnSync(process.execPath, [path.join(packageRoot(), "bin", "slimlab.js"), "run-one", file, outFile], {
      stdio: ["ignore", "inherit", "pipe"],
      encoding: "utf8",
      timeout: timeoutSec * 1000,
      killSignal: "SIGKILL",
    });
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (child.error || child.signal) {
      log(`FAIL ${file}: timed out after ${timeoutSec} s (raise --timeout)`);
      return 1;
    }
    if (child.status !== 0) {
      log(`FAIL ${file} (${secs} s): ${child.stderr.trim().split("\n").pop()}`);
      log(`     executed copy with the error: ${outFile}`);
      return 1;
    }
    log(`ok   ${file} (${secs} s) -> ${outFile}`);
  }
  return 0;
}
