/**
 * Traceable results: a notebook's headline numbers written to
 * `results/<notebook>.<mode>.json` with what is needed to trace them back —
 * the commit (and whether the working tree differed from it), the mode,
 * the settings, the seeds, the wall time and the date.
 *
 *   await recordResults("07-distillation", { mode: FULL ? "full" : "quick", started: T0, settings, seeds, metrics, goals });
 *
 * Full-mode files are committed; `npm run results` (scripts/results.ts)
 * renders the README's results table from them, and a test fails when the
 * README and the files disagree. Quick-mode files land beside them and are
 * git-ignored.
 *
 * Where: `SLIMLAB_RESULTS_DIR` when set; else `results/` of the slimlab
 * checkout when the working directory is inside it (the repository's own
 * notebooks, run from the root or from notebooks/); else `results/` in the
 * working directory.
 *
 * The rendering functions (renderRow, renderTable, describeRecord) are pure
 * and need no tfjs, so the README generator can use them.
 */
import { execFileSync } from "child_process";
import { promises as fsp } from "fs";
import * as fs from "fs";
import * as path from "path";
import { SlimlabError } from "../core/errors";
import { writeFileAtomic } from "./safe-write";
import { describeGoal, describeSpread, formatNumber, Goal, verdict, Verdict } from "./spread";

export const RESULTS_SCHEMA = "slimlab-results/1";

export type ResultsMode = "quick" | "full";
export type SettingValue = number | string | boolean | number[];

/** One headline number: measured once (`value`) or once per seed (`values`). */
export interface ResultMetric {
  /** Stable identifier, used by goals. */
  key: string;
  /** What it is, as the README shows it ("gap closed", "LeNet-300-100 ratio"). */
  label: string;
  value?: number | string | boolean;
  /** One per seed, in the order of the record's seeds. */
  values?: number[];
  /** Appended to the number: "%", "×", " errors". */
  unit?: string;
  /** Digits after the point (default 2). */
  digits?: number;
}

/** A goal on a per-seed metric, judged with spread.ts's verdict(). */
export interface ResultGoal extends Goal {
  /** "distilled student closes ≥ 50% of the gap" */
  label: string;
  /** Key of the metric (with `values`) the goal is on. */
  metric: string;
  /** Default 3. */
  minSeeds?: number;
}

/** What a notebook passes to recordResults. */
export interface ResultsInput {
  /** Default: "full" when SLIMLAB_FULL=1, else "quick". */
  mode?: ResultsMode;
  /** Date.now() when the notebook started (its first cell): the wall time is measured from it. */
  started: number;
  /** The settings behind the numbers (training images, epochs, ...), labelled for reading. */
  settings: Record<string, SettingValue>;
  /** Every seed whose runs the per-seed metrics hold. */
  seeds: number[];
  metrics: ResultMetric[];
  goals?: ResultGoal[];
  /** The paper's or article's numbers for comparison, as text (cited from docs/references.md). */
  reference?: string;
  /** Results folder; default as described above. */
  dir?: string;
}

/** The file's content. */
export interface ResultsRecord {
  schema: typeof RESULTS_SCHEMA;
  notebook: string;
  mode: ResultsMode;
  /** `git rev-parse HEAD`, or "unknown" outside git. */
  commit: string;
  /** Whether tracked files (other than results/, docs/results/, README.md) differed from the commit; null outside git. */
  dirty: boolean | null;
  /** ISO 8601, when the file was written. */
  date: string;
  wallSeconds: number;
  node: string;
  backend?: string;
  settings: Record<string, SettingValue>;
  seeds: number[];
  metrics: ResultMetric[];
  goals: ResultGoal[];
  reference?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The folder of the slimlab package this file belongs to (its package.json names slimlab), if any. */
function slimlabRoot(): string | undefined {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, "package.json");
    try {
      if (JSON.parse(fs.readFileSync(pj, "utf8")).name === "slimlab") return dir;
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** Where recordResults writes when not told. */
export function defaultResultsDir(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLIMLAB_RESULTS_DIR) return path.resolve(cwd, env.SLIMLAB_RESULTS_DIR);
  const root = slimlabRoot();
  if (root !== undefined && (cwd === root || cwd.startsWith(root + path.sep))) return path.join(root, "results");
  return path.join(cwd, "results");
}

function git(dir: string, args: string[]): string | undefined {
  try {
    return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10000 }).trim();
  } catch {
    return undefined;
  }
}

/** The commit checked out at `dir` and whether tracked files (outside the results and the README) differ from it. */
export function gitState(dir: string): { commit: string; dirty: boolean | null } {
  const commit = git(dir, ["rev-parse", "HEAD"]);
  if (commit === undefined || !/^[0-9a-f]{40}$/.test(commit)) return { commit: "unknown", dirty: null };
  const top = git(dir, ["rev-parse", "--show-toplevel"]) ?? dir;
  const status = git(top, ["status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results", ":(exclude)docs/results", ":(exclude)README.md"]);
  return { commit, dirty: status === undefined ? null : status.length > 0 };
}

function checkMetric(m: ResultMetric, where: string): void {
  if (typeof m !== "object" || m === null) throw new SlimlabError("E_ARG", `${where}: a metric must be an object`);
  if (typeof m.key !== "string" || !m.key) throw new SlimlabError("E_ARG", `${where}: a metric needs a key`);
  if (typeof m.label !== "string" || !m.label) throw new SlimlabError("E_ARG", `${where}: metric ${m.key} needs a label`);
  const has = (m.value !== undefined ? 1 : 0) + (m.values !== undefined ? 1 : 0);
  if (has !== 1) throw new SlimlabError("E_ARG", `${where}: metric ${m.key} needs exactly one of value and values`);
  if (typeof m.value === "number" && !Number.isFinite(m.value)) throw new SlimlabError("E_ARG", `${where}: metric ${m.key} is ${m.value}, not a finite number`);
  if (m.value !== undefined && !["number", "string", "boolean"].includes(typeof m.value)) throw new SlimlabError("E_ARG", `${where}: metric ${m.key} must be a number, string or boolean`);
  if (m.values !== undefined && (!Array.isArray(m.values) || m.values.length === 0 || m.values.some((v) => typeof v !== "number" || !Number.isFinite(v)))) {
    throw new SlimlabError("E_ARG", `${where}: metric ${m.key}'s values must be a non-empty list of finite numbers, got ${JSON.stringify(m.values)}`);
  }
}

/**
 * Checks a record (as written, or as read back from a file) and returns it.
 * @throws SlimlabError E_ARG naming the first problem
 */
export function checkRecord(r: unknown, where = "results"): ResultsRecord {
  const o = r as ResultsRecord;
  if (typeof o !== "object" || o === null) throw new SlimlabError("E_ARG", `${where}: not an object`);
  if (o.schema !== RESULTS_SCHEMA) throw new SlimlabError("E_ARG", `${where}: schema ${JSON.stringify(o.schema)}, expected ${RESULTS_SCHEMA}`);
  if (typeof o.notebook !== "string" || !NAME.test(o.notebook)) throw new SlimlabError("E_ARG", `${where}: notebook name ${JSON.stringify(o.notebook)}`);
  if (o.mode !== "quick" && o.mode !== "full") throw new SlimlabError("E_ARG", `${where}: mode ${JSON.stringify(o.mode)}, expected "quick" or "full"`);
  if (typeof o.commit !== "string" || !(o.commit === "unknown" || /^[0-9a-f]{40}$/.test(o.commit))) throw new SlimlabError("E_ARG", `${where}: commit ${JSON.stringify(o.commit)}`);
  if (!(typeof o.wallSeconds === "number" && o.wallSeconds >= 0)) throw new SlimlabError("E_ARG", `${where}: wallSeconds ${o.wallSeconds}`);
  if (typeof o.date !== "string" || Number.isNaN(Date.parse(o.date))) throw new SlimlabError("E_ARG", `${where}: date ${JSON.stringify(o.date)}`);
  if (!Array.isArray(o.seeds) || o.seeds.length === 0 || o.seeds.some((s) => !Number.isInteger(s))) throw new SlimlabError("E_ARG", `${where}: seeds must be a non-empty list of integers`);
  if (typeof o.settings !== "object" || o.settings === null) throw new SlimlabError("E_ARG", `${where}: settings must be an object`);
  if (!Array.isArray(o.metrics) || o.metrics.length === 0) throw new SlimlabError("E_ARG", `${where}: no metrics`);
  const keys = new Set<string>();
  for (const m of o.metrics) {
    checkMetric(m, where);
    if (keys.has(m.key)) throw new SlimlabError("E_ARG", `${where}: metric key ${m.key} appears twice`);
    keys.add(m.key);
    if (m.values !== undefined && m.values.length !== o.seeds.length) {
      throw new SlimlabError("E_ARG", `${where}: metric ${m.key} has ${m.values.length} values for ${o.seeds.length} seeds`);
    }
  }
  for (const g of o.goals ?? []) {
    const m = o.metrics.find((x) => x.key === g.metric);
    if (m?.values === undefined) throw new SlimlabError("E_ARG", `${where}: goal "${g.label}" is on ${g.metric}, which is no per-seed metric`);
    try {
      describeGoal(g);
    } catch {
      throw new SlimlabError("E_ARG", `${where}: goal "${g.label}" has no bound (atLeast / atMost)`);
    }
  }
  return { ...o, goals: o.goals ?? [] };
}

/** The verdict on one goal of a record. */
export function goalVerdict(r: Pick<ResultsRecord, "metrics">, g: ResultGoal): Verdict {
  const m = r.metrics.find((x) => x.key === g.metric);
  if (m?.values === undefined) throw new SlimlabError("E_ARG", `goal "${g.label}": no per-seed metric ${g.metric}`);
  return verdict(m.values, g, { minSeeds: g.minSeeds });
}

/** One metric as text: "label: value" or "label: mean (min–max, std, n seeds)". */
export function describeMetric(m: ResultMetric): string {
  const f = { digits: m.digits, unit: m.unit };
  if (m.values !== undefined) return `${m.label}: ${describeSpread(m.values, f)}`;
  const v = typeof m.value === "number" ? formatNumber(m.value, f) : `${String(m.value)}${m.unit ?? ""}`;
  return `${m.label}: ${v}`;
}

/** One goal as text: "label (≥ 50%): met — all 3 seeds meet it, the worst included". */
export function describeGoalVerdict(r: Pick<ResultsRecord, "metrics">, g: ResultGoal): string {
  const m = r.metrics.find((x) => x.key === g.metric);
  const v = goalVerdict(r, g);
  return `${g.label} (${describeGoal(g, m?.unit ?? "")}): **${v.verdict}** (${v.reason})`;
}

/** The record as markdown, for the notebook's last cell. */
export function describeRecord(r: ResultsRecord, file?: string): string {
  const commit = r.commit === "unknown" ? "unknown commit (not in git)" : `commit ${r.commit.slice(0, 12)}${r.dirty ? " with uncommitted changes" : ""}`;
  const lines = [
    `**Recorded** (${r.mode} mode, ${commit}, ${r.date}, wall time ${Math.round(r.wallSeconds)} s, seeds ${r.seeds.join(", ")})${file ? ` in \`${file}\`` : ""}:`,
    "",
    ...r.metrics.map((m) => `- ${describeMetric(m)}`),
    ...r.goals.map((g) => `- ${describeGoalVerdict(r, g)}`),
  ];
  return lines.join("\n");
}

/**
 * Writes the notebook's headline numbers to `<dir>/<name>.<mode>.json`
 * (atomically: a reader sees the old file or the new one). An existing file
 * is replaced only when it is a results file itself.
 *
 * @param name the notebook's file name without .ipynb, e.g. "06-deep-compression"
 * @param input mode, start time, settings, seeds, metrics, goals (see ResultsInput)
 * @returns the path written (relative to the working directory), the record,
 *   and a markdown summary with every goal's verdict
 * @throws SlimlabError E_ARG for a bad name or metric (nothing is written),
 *   E_FILE when the file cannot be written or is not a results file
 * @example
 *   const rec = await recordResults("07-distillation", {
 *     mode: FULL ? "full" : "quick", started: T0, seeds: [1, 2, 3],
 *     settings: { "training digits": 55000 },
 *     metrics: [{ key: "gapClosed", label: "gap closed", values: [62, 55, 70], unit: "%", digits: 0 }],
 *     goals: [{ label: "at least half of the gap closed", metric: "gapClosed", atLeast: 50 }],
 *   });
 *   display.markdown(rec.markdown);
 */
export async function recordResults(name: string, input: ResultsInput): Promise<{ file: string; record: ResultsRecord; markdown: string }> {
  if (typeof name !== "string" || !NAME.test(name) || name.endsWith(".ipynb")) {
    throw new SlimlabError("E_ARG", `recordResults: name ${JSON.stringify(name)} must be the notebook's file name without .ipynb (letters, digits, . _ -)`);
  }
  if (!(typeof input?.started === "number" && Number.isFinite(input.started) && input.started <= Date.now())) {
    throw new SlimlabError("E_ARG", "recordResults: started must be Date.now() taken when the notebook started");
  }
  const mode: ResultsMode = input.mode ?? (process.env.SLIMLAB_FULL === "1" ? "full" : "quick");
  const dir = path.resolve(input.dir ?? defaultResultsDir());
  const { commit, dirty } = gitState(fs.existsSync(dir) ? dir : path.dirname(dir));
  let backend: string | undefined;
  try {
    backend = (require("@tensorflow/tfjs") as typeof import("@tensorflow/tfjs")).getBackend();
  } catch {
    backend = undefined;
  }
  const record = checkRecord(
    {
      schema: RESULTS_SCHEMA,
      notebook: name,
      mode,
      commit,
      dirty,
      date: new Date().toISOString(),
      wallSeconds: Math.round((Date.now() - input.started) / 100) / 10,
      node: process.version,
      ...(backend ? { backend } : {}),
      settings: input.settings,
      seeds: input.seeds,
      metrics: input.metrics,
      goals: input.goals ?? [],
      ...(input.reference ? { reference: input.reference } : {}),
    },
    `recordResults(${name})`,
  );
  const file = path.join(dir, `${name}.${mode}.json`);
  await writeFileAtomic(file, JSON.stringify(record, null, 2) + "\n", { fn: "recordResults", force: true, ownedIf: isResultsFile });
  const shown = path.relative(process.cwd(), file) || file;
  return { file: shown, record, markdown: describeRecord(record, shown) };
}

/** Whether `file` holds a results record (so recordResults may replace it). */
export async function isResultsFile(file: string): Promise<boolean> {
  try {
    return JSON.parse(await fsp.readFile(file, "utf8")).schema === RESULTS_SCHEMA;
  } catch {
    return false;
  }
}

/** Reads and checks one results file. */
export function readRecord(file: string): ResultsRecord {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new SlimlabError("E_FILE", `${file}: not a readable results file (${(e as Error).message})`);
  }
  return checkRecord(data, file);
}

/** A table cell: no line breaks, no unescaped pipes. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function describeSetting(k: string, v: SettingValue): string {
  return `${k} ${Array.isArray(v) ? v.join(", ") : String(v)}`;
}

/** The table's header (two lines). */
export const TABLE_HEADER = [
  "| notebook (wall time) | run | settings | what the cells measured | paper / article |",
  "| --- | --- | --- | --- | --- |",
];

/** The README row of one notebook: from its full-mode record, or saying there is none. */
export function renderRow(notebook: string, r: ResultsRecord | undefined): string {
  if (r === undefined) return `| ${notebook} | not yet run in full mode at this commit | | | |`;
  if (r.notebook !== notebook || r.mode !== "full") throw new SlimlabError("E_ARG", `renderRow: a ${r.mode} record of ${r.notebook} given for ${notebook}`);
  const commit = r.commit === "unknown" ? "commit unknown" : `\`${r.commit.slice(0, 7)}\`${r.dirty ? " + uncommitted changes" : ""}`;
  const run = `${commit}, ${r.date.slice(0, 10)}, seeds ${r.seeds.join(", ")}${r.backend ? `, ${r.backend}` : ""}`;
  const settings = Object.entries(r.settings).map(([k, v]) => describeSetting(k, v)).join("; ");
  const measured = [...r.metrics.map(describeMetric), ...r.goals.map((g) => describeGoalVerdict(r, g))].join("; ");
  return `| ${cell(`${notebook} (${Math.round(r.wallSeconds)} s)`)} | ${cell(run)} | ${cell(settings)} | ${cell(measured)} | ${cell(r.reference ?? "")} |`;
}

/** The whole table: one row per notebook, in the order given. */
export function renderTable(notebooks: string[], records: Map<string, ResultsRecord>): string {
  return [...TABLE_HEADER, ...notebooks.map((nb) => renderRow(nb, records.get(nb)))].join("\n");
}
