/**
 * How a plugin declares a magic: once, with its name, summary, positional
 * arguments, typed flags and the function it calls (house rule 2). From this
 * one declaration the kernel derives parsing, validation, `%name?` help,
 * `%lsmagic`, completion and the TypeScript type of the result; and
 * `invokeMagic` runs the same validation for code that calls it directly.
 */
import { show, SlimlabError, suggestion } from "./errors";

/**
 * The limits of a number, declared once: flag declarations spread them in
 * (`{ type: "number", ...SPARSITY, help }`) and plugin functions check their
 * own options against the same object with `fitsNumberRule`.
 */
export interface NumberRule {
  integer?: boolean;
  /** Smallest value allowed (inclusive). */
  min?: number;
  /** Largest value allowed (inclusive). */
  max?: number;
  /** Values must be greater than this (exclusive lower bound). */
  above?: number;
  /** Values must be less than this (exclusive upper bound). */
  below?: number;
}

/** A flag's declaration. The `type` decides both the parser and the static type; `required` flags must be given. */
export type FlagSpec =
  | { type: "number"; help: string; default?: number; integer?: boolean; min?: number; max?: number; above?: number; below?: number; required?: boolean; short?: string }
  | { type: "string"; help: string; default?: string; required?: boolean; short?: string }
  | { type: "boolean"; help: string; short?: string }
  | { type: "choice"; help: string; choices: readonly string[]; default?: string; required?: boolean; short?: string }
  | { type: "numbers"; help: string; default?: readonly number[]; integer?: boolean; min?: number; max?: number; above?: number; below?: number; required?: boolean; short?: string }
  /** A notebook value: a variable name, `$name` or `{expression}`; checked by the magic itself. */
  | { type: "value"; help: string; required?: boolean; short?: string };

/** A positional argument: a notebook value (variable, `$name`, `{expr}`) or, with `code`, the rest of the line as TypeScript. */
export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
  /** Takes all remaining positional words (e.g. `%compare m1 m2 m3`). */
  variadic?: boolean;
  /** The rest of the line after the flags is TypeScript code, passed as an async function. */
  code?: boolean;
  /**
   * With `code`: the function returns the value of the code's last
   * expression (`%time f()` gives f()'s value). The magic passes it on by
   * returning it as a `CodeValue`, which gives the line the code's type.
   */
  returnsValue?: boolean;
  /** A bare word is taken as text (a path, a name), not as a variable; `{expr}` still evaluates. */
  text?: boolean;
  /**
   * The rest of the line after the flags, as written (a shell command):
   * quotes, `;`, `//` and brackets are kept; `{name}` (a variable or a path
   * into one, as IPython's `!ls {folder}`) is replaced by its value, and
   * `{{name}}` gives `{name}` itself.
   */
  raw?: boolean;
  /** Tab completions for a word being typed in this position (file names, variable names). */
  complete?(prefix: string): string[];
}

type Choice<F> = F extends { choices: readonly (infer C)[] } ? C : never;

/** The TypeScript type a flag's value has once parsed. */
export type FlagValue<F extends FlagSpec> = F["type"] extends "number"
  ? number
  : F["type"] extends "string"
  ? string
  : F["type"] extends "boolean"
  ? boolean
  : F["type"] extends "choice"
  ? Choice<F>
  : F["type"] extends "numbers"
  ? number[]
  : unknown;

/** Parsed flags as `run` receives them; `output` is true for `-o` on magics that declare `output`. */
export type FlagValues<Fs extends Record<string, FlagSpec>> = { [K in keyof Fs]?: FlagValue<Fs[K]> } & { output?: boolean };

/** What a running magic may need besides its arguments. */
export interface MagicContext {
  /** The magic line as the user wrote it (for messages). */
  line: string;
  /** Cell body, for cell magics (`%%name`). */
  cell?: string;
  /**
   * For magics that declare `argNames`: each positional argument as the user
   * wrote it, e.g. `["m", "p"]` for `%compare m p` (see MagicSpec.argNames).
   * Absent when the magic is called as a function without them.
   */
  argNames?: readonly (string | null)[];
}

declare const codeValueBrand: unique symbol;
/**
 * What `run` returns to say "my value is my code's value" (`%time f()`):
 * the magic line then has the type of the code's last expression.
 */
export type CodeValue = { readonly [codeValueBrand]: true };

/**
 * `-o` / `--output`, declared once: `run` returns the whole result (R) and
 * `value` picks what the line gives without -o (V), e.g. the new model.
 */
export interface OutputSpec<R, V, Fs extends Record<string, FlagSpec>> {
  /** Help of -o, e.g. "return the whole PruneResult instead of the model". */
  help: string;
  /** The line's value without -o. It may free what it drops (a baseline model, ...). */
  value(result: Awaited<R>, flags: FlagValues<Fs>): V;
}

export interface MagicSpec<Fs extends Record<string, FlagSpec> = Record<string, FlagSpec>, R = unknown, V = R> {
  name: string;
  summary: string;
  /** Longer help shown by `%name?` below the usage line. */
  description?: string;
  positional: readonly PositionalSpec[];
  flags: Fs;
  /** Whether `%%name` (cell magic) is allowed, and whether `%name` (line magic) is. */
  cell?: boolean;
  line?: boolean;
  /** Example lines shown in help. */
  examples?: readonly string[];
  /**
   * Whether `run` gets `ctx.argNames`: for each positional argument, the
   * variable (or property path) it was written as, the name after `$`, or
   * the expression inside `{...}`; null for a quoted string, a number or
   * code. A magic that lists several values can label them as the user
   * named them (`%compare m p q`).
   */
  argNames?: boolean;
  run(args: unknown[], flags: FlagValues<Fs>, ctx: MagicContext): R | Promise<R>;
  /** Adds the `-o`/`--output` flag: with it the line gives run's whole result, without it `output.value(result)`. */
  output?: OutputSpec<R, V, Fs>;
  /**
   * Checks between flags (bits allowed by the chosen scheme, a flag that
   * needs another). It runs when the cell is expanded, on the flags written
   * as literals (checked, defaults filled for flags not on the line), and
   * again when the magic runs, on all flags. `given` holds the flags on the
   * line: one given as `{expr}` is given but has no value at expansion, so a
   * check that needs its value skips it. Throw SlimlabError.
   */
  check?(flags: FlagValues<Fs>, given: ReadonlySet<keyof Fs | "output">): void;
}

/**
 * Declares a magic. The identity function exists so TypeScript infers the
 * flag and result types from the literal.
 * @example
 * const hello = defineMagic({
 *   name: "hello", summary: "Greets someone.",
 *   positional: [{ name: "who", help: "a name" }],
 *   flags: { loud: { type: "boolean", help: "shout" } },
 *   run: ([who], { loud }) => (loud ? `HELLO ${who}!` : `hello ${who}`),
 * });
 */
export function defineMagic<Fs extends Record<string, FlagSpec>, R, V = R>(spec: MagicSpec<Fs, R, V>): MagicSpec<Fs, R, V> {
  return spec;
}

/** What a magic line gives without -o: `output.value`'s result, or run's. */
export type MagicResult<M> = M extends { output?: { value(...args: never[]): infer V } } ? Awaited<V> : MagicOutput<M>;

/** What a magic line gives with -o: run's whole result. */
export type MagicOutput<M> = M extends { run(...args: never[]): infer R } ? Awaited<R> : never;

function usageError(magic: string, message: string): SlimlabError {
  return new SlimlabError("E_ARG", `%${magic}: ${message}`);
}

/** Flag names as the user types them: camelCase keys become --kebab-case. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The flags a magic takes: its declared ones, plus `-o`/`--output` when it declares `output`. */
export function flagsOf(spec: MagicSpec): Record<string, FlagSpec> {
  if (!spec.output) return spec.flags;
  return { ...spec.flags, output: { type: "boolean", short: "o", help: spec.output.help } };
}

/** ">= 0 and < 1": the bounds of `rule`, or "" when it has none. */
export function describeBounds(rule: NumberRule): string {
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.above !== undefined) parts.push(`> ${rule.above}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  if (rule.below !== undefined) parts.push(`< ${rule.below}`);
  return parts.join(" and ");
}

/** "an integer >= 1", "a number >= 0 and < 1": what `rule` allows, for messages. */
export function describeNumberRule(rule: NumberRule): string {
  const bounds = describeBounds(rule);
  return `${rule.integer ? "an integer" : "a number"}${bounds ? ` ${bounds}` : ""}`;
}

/** Whether `v` is a finite number within `rule`. */
export function fitsNumberRule(v: unknown, rule: NumberRule): v is number {
  if (typeof v !== "number" || !Number.isFinite(v)) return false;
  if (rule.integer && !Number.isInteger(v)) return false;
  if (rule.min !== undefined && v < rule.min) return false;
  if (rule.max !== undefined && v > rule.max) return false;
  if (rule.above !== undefined && !(v > rule.above)) return false;
  if (rule.below !== undefined && !(v < rule.below)) return false;
  return true;
}

/**
 * Checks one flag value against its declaration and converts strings typed on
 * a magic line to the declared type. Throws SlimlabError E_ARG naming the flag,
 * the value and what is allowed. The kernel calls it on literal values when it
 * expands a cell (before any line runs) and `invokeMagic` on every value when
 * the magic runs, so both apply the same declaration.
 */
export function checkFlag(magic: string, key: string, spec: FlagSpec, value: unknown): unknown {
  const name = `--${flagName(key)}`;
  const bad = (allowed: string) => usageError(magic, `${name} got ${show(value)}; expected ${allowed}`);
  switch (spec.type) {
    case "boolean":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      throw bad("true or false (or the bare flag)");
    case "string":
      if (typeof value === "string") return value;
      throw bad("a string");
    case "choice": {
      if (typeof value === "string" && spec.choices.includes(value)) return value;
      const hint = typeof value === "string" ? suggestion(value, spec.choices) : "";
      throw bad(`one of ${spec.choices.join(", ")}${hint}`);
    }
    case "number":
      return checkNumber(typeof value === "string" && value.trim() !== "" ? Number(value) : value, spec, bad);
    case "numbers": {
      const list = typeof value === "string" ? value.split(",").map((v) => (v.trim() === "" ? NaN : Number(v))) : value;
      if (typeof list === "number") return [checkNumber(list, spec, bad)];
      if (!Array.isArray(list) || list.length === 0) throw bad("a comma-separated list of numbers, e.g. 1,8,32");
      return list.map((v) => checkNumber(v, spec, bad));
    }
    case "value":
      return value;
  }
}

function checkNumber(v: unknown, rule: NumberRule, bad: (allowed: string) => SlimlabError): number {
  if (!fitsNumberRule(v, rule)) throw bad(describeNumberRule(rule));
  return v;
}

/** Throws E_UNKNOWN_FLAG for `typed` (as the user wrote it, e.g. "--sparsty") with "did you mean". */
export function unknownFlag(spec: MagicSpec, typed: string): SlimlabError {
  const known = Object.keys(flagsOf(spec)).map((x) => `--${flagName(x)}`);
  const asLong = typed.startsWith("--") ? typed : `--${typed.replace(/^-+/, "")}`;
  return new SlimlabError("E_UNKNOWN_FLAG", `%${spec.name}: unknown flag ${typed}${suggestion(asLong, known)}; allowed: ${known.join(" ") || "none"}`);
}

/**
 * Checks what a magic line must hold whatever the values: enough positional
 * arguments and every `required` flag. `given` says whether a flag is on the
 * line (its value may be known only when it runs). Used at expansion and by
 * `invokeMagic`.
 */
export function checkPresence(spec: MagicSpec, positionals: number, given: (key: string) => boolean): void {
  const required = spec.positional.filter((p) => !p.optional && !p.variadic && !p.code && !p.raw).length;
  if (positionals < required) {
    const missing = spec.positional[positionals];
    throw new SlimlabError("E_MISSING_ARG", `%${spec.name}: missing <${missing.name}> (${missing.help}); usage: ${usage(spec)}`);
  }
  for (const [k, f] of Object.entries(spec.flags)) {
    if ("required" in f && f.required && !given(k)) {
      const flag = `--${flagName(k)}`;
      const example = spec.examples?.find((e) => e.includes(`${flag} `));
      const add = `add ${flag} ${f.type === "value" ? "<var>" : k.toUpperCase()}${example ? `, e.g. ${example}` : ""}`;
      throw new SlimlabError("E_MISSING_ARG", `%${spec.name}: missing ${flag} (${f.help}); ${add}`);
    }
  }
}

/** What `invokeMagic` gives: run's whole result with `output: true`, else the line's value. */
export type InvokeResult<R, V, F> = F extends { output: true } ? Awaited<R> : Awaited<V>;

/**
 * Validates flags (unknown names with "did you mean", types, ranges,
 * required), fills defaults and calls the magic. This is the one path by
 * which both a magic line and plain code run a magic.
 */
export async function invokeMagic<Fs extends Record<string, FlagSpec>, R, V, const F extends Record<string, unknown>>(
  spec: MagicSpec<Fs, R, V>,
  args: unknown[],
  flags: F,
  ctx: Partial<MagicContext> = {},
): Promise<InvokeResult<R, V, F>> {
  const general = spec as unknown as MagicSpec;
  const all = flagsOf(general);
  const checked: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined) continue;
    if (!(k in all)) throw unknownFlag(general, `--${flagName(k)}`);
    checked[k] = checkFlag(spec.name, k, all[k], v);
  }
  const present = new Set(Object.keys(checked));
  for (const [k, f] of Object.entries(all)) {
    if (checked[k] === undefined && "default" in f && f.default !== undefined) checked[k] = f.default;
  }
  checkPresence(general, args.length, (k) => present.has(k));
  if (ctx.argNames !== undefined && (!Array.isArray(ctx.argNames) || ctx.argNames.length !== args.length)) {
    throw new SlimlabError("E_ARG", `%${spec.name}: argNames got ${show(ctx.argNames)}; allowed: one name (or null) per argument, ${args.length} in all`);
  }
  const values = checked as FlagValues<Fs>;
  spec.check?.(values, present);
  const result = await spec.run(args, values, { line: ctx.line ?? `%${spec.name}`, cell: ctx.cell, argNames: ctx.argNames });
  const out = spec.output && values.output !== true ? spec.output.value(result as Awaited<R>, values) : result;
  return out as InvokeResult<R, V, F>;
}

/** The usage line, e.g. `%prune <model> [--sparsity S] [--strip]`. */
export function usage(spec: MagicSpec): string {
  const pos = spec.positional.map((p) => {
    const n = p.code || p.raw ? `<${p.name}...>` : p.variadic ? `<${p.name}> ...` : `<${p.name}>`;
    return p.optional ? `[${n}]` : n;
  });
  const flags = Object.entries(flagsOf(spec)).map(([k, f]) => {
    const meta = f.type === "boolean" ? "" : f.type === "choice" ? ` ${f.choices.join("|")}` : ` ${k.toUpperCase()}`;
    return "required" in f && f.required ? `--${flagName(k)}${meta}` : `[--${flagName(k)}${meta}]`;
  });
  const prefix = spec.line === false ? "%%" : "%";
  return [`${prefix}${spec.name}`, ...pos, ...flags].join(" ");
}

/** What a flag allows beyond its type, for help: " (integer, >= 1)", " (> 0 and <= 1; required)". */
function limits(f: FlagSpec): string {
  const notes: string[] = [];
  if (f.type === "number" || f.type === "numbers") {
    const bounds = describeBounds(f);
    if (f.integer) notes.push(bounds ? `integer ${bounds}` : "integer");
    else if (bounds) notes.push(bounds);
  }
  if ("required" in f && f.required) notes.push("required");
  return notes.length ? ` (${notes.join("; ")})` : "";
}

/** The text `%name?` and `%name --help` print, generated from the declaration. */
export function helpText(spec: MagicSpec): string {
  const lines = [usage(spec), "", spec.summary];
  if (spec.description) lines.push("", spec.description);
  if (spec.positional.length) {
    lines.push("", "Arguments:");
    for (const p of spec.positional) lines.push(`  <${p.name}>${p.optional ? " (optional)" : ""}  ${p.help}`);
  }
  const flags = Object.entries(flagsOf(spec));
  if (flags.length) {
    lines.push("", "Flags:");
    for (const [k, f] of flags) {
      const short = f.short ? `-${f.short}, ` : "";
      const def = "default" in f && f.default !== undefined ? ` (default: ${Array.isArray(f.default) ? f.default.join(",") : f.default})` : "";
      const allowed = f.type === "choice" ? ` [${f.choices.join("|")}]` : "";
      lines.push(`  ${short}--${flagName(k)}${allowed}  ${f.help}${limits(f)}${def}`);
    }
  }
  if (spec.examples?.length) lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}
