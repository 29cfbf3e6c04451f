/**
 * How a plugin declares a magic: once, with its name, summary, positional
 * arguments, typed flags and the function it calls (house rule 2). From this
 * one declaration the kernel derives parsing, validation, `%name?` help,
 * `%lsmagic`, completion and the TypeScript type of the result; and
 * `invokeMagic` runs the same validation for code that calls it directly.
 */
import { show, SlimlabError, suggestion } from "./errors";

/** A flag's declaration. The `type` decides both the parser and the static type. */
export type FlagSpec =
  | { type: "number"; help: string; default?: number; integer?: boolean; min?: number; max?: number; short?: string }
  | { type: "string"; help: string; default?: string; short?: string }
  | { type: "boolean"; help: string; short?: string }
  | { type: "choice"; help: string; choices: readonly string[]; default?: string; short?: string }
  | { type: "numbers"; help: string; default?: readonly number[]; integer?: boolean; min?: number; short?: string }
  /** A notebook value: a variable name, `$name` or `{expression}`; checked by the magic itself. */
  | { type: "value"; help: string; short?: string };

/** A positional argument: a notebook value (variable, `$name`, `{expr}`) or, with `code`, the rest of the line as TypeScript. */
export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
  /** Takes all remaining positional words (e.g. `%compare m1 m2 m3`). */
  variadic?: boolean;
  /** The rest of the line after the flags is TypeScript code, passed as an async function. */
  code?: boolean;
  /** A bare word is taken as text (a path, a name), not as a variable; `{expr}` still evaluates. */
  text?: boolean;
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

export type FlagValues<Fs extends Record<string, FlagSpec>> = { [K in keyof Fs]?: FlagValue<Fs[K]> };

/** What a running magic may need besides its arguments. */
export interface MagicContext {
  /** The magic line as the user wrote it (for messages). */
  line: string;
  /** Cell body, for cell magics (`%%name`). */
  cell?: string;
}

export interface MagicSpec<Fs extends Record<string, FlagSpec> = Record<string, FlagSpec>, R = unknown> {
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
  run(args: unknown[], flags: FlagValues<Fs>, ctx: MagicContext): R | Promise<R>;
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
export function defineMagic<Fs extends Record<string, FlagSpec>, R>(spec: MagicSpec<Fs, R>): MagicSpec<Fs, R> {
  return spec;
}

/** The result type of a magic spec. */
export type MagicResult<M> = M extends { run(...args: never[]): infer R } ? Awaited<R> : never;

function usageError(magic: string, message: string): SlimlabError {
  return new SlimlabError("E_ARG", `%${magic}: ${message}`);
}

/** Flag names as the user types them: camelCase keys become --kebab-case. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Checks one flag value against its declaration and converts strings typed on
 * a magic line to the declared type. Throws SlimlabError E_ARG naming the flag,
 * the value and what is allowed.
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

function checkNumber(
  v: unknown,
  spec: { integer?: boolean; min?: number; max?: number },
  bad: (allowed: string) => SlimlabError,
): number {
  const range = `${spec.min !== undefined ? ` >= ${spec.min}` : ""}${spec.min !== undefined && spec.max !== undefined ? " and" : ""}${spec.max !== undefined ? ` <= ${spec.max}` : ""}`;
  const allowed = `${spec.integer ? "an integer" : "a number"}${range}`;
  if (typeof v !== "number" || !Number.isFinite(v)) throw bad(allowed);
  if (spec.integer && !Number.isInteger(v)) throw bad(allowed);
  if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) throw bad(allowed);
  return v;
}

/**
 * Validates flags (unknown names with "did you mean", types, ranges), fills
 * defaults and calls the magic. This is the one path by which both a magic
 * line and plain code run a magic.
 */
export async function invokeMagic<Fs extends Record<string, FlagSpec>, R>(
  spec: MagicSpec<Fs, R>,
  args: unknown[],
  flags: Record<string, unknown>,
  ctx: Partial<MagicContext> = {},
): Promise<Awaited<R>> {
  const keys = Object.keys(spec.flags);
  const checked: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined) continue;
    if (!(k in spec.flags)) {
      const known = keys.map((x) => `--${flagName(x)}`);
      throw new SlimlabError("E_UNKNOWN_FLAG", `%${spec.name}: unknown flag --${flagName(k)}${suggestion(`--${flagName(k)}`, known)}; allowed: ${known.join(" ") || "none"}`);
    }
    checked[k] = checkFlag(spec.name, k, spec.flags[k], v);
  }
  for (const k of keys) {
    const f = spec.flags[k];
    if (checked[k] === undefined && "default" in f && f.default !== undefined) checked[k] = f.default;
  }
  const required = spec.positional.filter((p) => !p.optional && !p.variadic).length;
  if (args.length < required) {
    const missing = spec.positional[args.length];
    throw new SlimlabError("E_MISSING_ARG", `%${spec.name}: missing <${missing.name}> (${missing.help}); usage: ${usage(spec)}`);
  }
  return (await spec.run(args, checked as FlagValues<Fs>, { line: ctx.line ?? `%${spec.name}`, cell: ctx.cell })) as Awaited<R>;
}

/** The usage line, e.g. `%prune <model> [--sparsity S] [--strip]`. */
export function usage(spec: MagicSpec): string {
  const pos = spec.positional.map((p) => {
    const n = p.code ? `<${p.name}...>` : p.variadic ? `<${p.name}> ...` : `<${p.name}>`;
    return p.optional ? `[${n}]` : n;
  });
  const flags = Object.entries(spec.flags).map(([k, f]) => {
    const meta = f.type === "boolean" ? "" : f.type === "choice" ? ` ${f.choices.join("|")}` : ` ${k.toUpperCase()}`;
    return `[--${flagName(k)}${meta}]`;
  });
  const prefix = spec.line === false ? "%%" : "%";
  return [`${prefix}${spec.name}`, ...pos, ...flags].join(" ");
}

/** The text `%name?` and `%name --help` print, generated from the declaration. */
export function helpText(spec: MagicSpec): string {
  const lines = [usage(spec), "", spec.summary];
  if (spec.description) lines.push("", spec.description);
  if (spec.positional.length) {
    lines.push("", "Arguments:");
    for (const p of spec.positional) lines.push(`  <${p.name}>${p.optional ? " (optional)" : ""}  ${p.help}`);
  }
  const flags = Object.entries(spec.flags);
  if (flags.length) {
    lines.push("", "Flags:");
    for (const [k, f] of flags) {
      const short = f.short ? `-${f.short}, ` : "";
      const def = "default" in f && f.default !== undefined ? ` (default: ${Array.isArray(f.default) ? f.default.join(",") : f.default})` : "";
      const allowed = f.type === "choice" ? ` [${f.choices.join("|")}]` : "";
      lines.push(`  ${short}--${flagName(k)}${allowed}  ${f.help}${def}`);
    }
  }
  if (spec.examples?.length) lines.push("", "Examples:", ...spec.examples.map((e) => `  ${e}`));
  return lines.join("\n");
}
