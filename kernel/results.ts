/**
 * What a cell's value looks like and where earlier values stay reachable.
 *
 * A string value prints as Node's REPL and IPython print it, quoted
 * (`'a' + 'b'` shows `'ab'`): util.inspect with its defaults. Every other
 * value goes through the display formatter (kernel/display/format.ts).
 *
 * Earlier values, IPython's `_`, `__`, `___`, `Out[n]` and `In[n]` under
 * names that are valid TypeScript: `$_`, `$__`, `$___`, `$Out[n]`, `$In[n]`.
 * They are notebook variables (declared once, typed `any`), so cells,
 * `%who` and user_expressions see them like any other.
 */
import { inspect } from "util";
import { MimeBundle } from "../plugins/core/host";
import { toMimeBundle } from "./display/format";

/**
 * Marks a value a cell's last line gives that is not the cell's result
 * (a display handle: what it shows is shown already).
 */
export const NOT_SHOWN = Symbol.for("slimlab.notShown");

/** Whether `value`, as a cell's last value, is shown (see NOT_SHOWN). */
export function isShown(value: unknown): boolean {
  return !(typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[NOT_SHOWN] === true);
}

/** The MIME bundle of a cell's value (execute_result) or of a user expression. */
export function resultBundle(value: unknown): MimeBundle {
  if (typeof value === "string") return { "text/plain": inspect(value) };
  return toMimeBundle(value);
}

/** The names the kernel itself puts in the notebook's namespace. */
export const HISTORY_NAMES = ["$_", "$__", "$___", "$Out", "$In"] as const;

/** Their declarations, for the type checker (tslab's converter takes them as earlier cells' declarations). */
export const HISTORY_DECLARATIONS = [
  "/** The value of the last cell that had one (IPython's _). */",
  "declare let $_: any;",
  "/** The value before $_ (IPython's __). */",
  "declare let $__: any;",
  "/** The value before $__ (IPython's ___). */",
  "declare let $___: any;",
  "/** Cell values by execution count (IPython's Out): $Out[3]. */",
  "declare const $Out: Record<number, any>;",
  "/** Cell sources by execution count (IPython's In): $In[3]. */",
  "declare const $In: Record<number, string>;",
  "",
].join("\n");

/**
 * Keeps `$_`, `$__`, `$___`, `$Out` and `$In` in `ns` (the executor's
 * namespace). A name the user assigned a value of their own is left alone
 * from then on, as IPython leaves a user's `_`.
 */
export class ResultHistory {
  private readonly out: Record<number, unknown> = {};
  private readonly inputs: Record<number, string> = {};
  /** What the kernel last put in each of $_, $__, $___ (to tell whether the user has since assigned it). */
  private readonly mine: Record<string, unknown> = {};

  constructor(private readonly ns: Record<string, unknown>) {
    ns.$Out = this.out;
    ns.$In = this.inputs;
  }

  /** Records the source of cell `count`. */
  input(count: number, code: string): void {
    if (count > 0) this.inputs[count] = code;
  }

  /** Records the value of cell `count` (0: a cell without a number, which updates only $_ and friends). */
  result(count: number, value: unknown): void {
    if (count > 0) this.out[count] = value;
    const [a, b, c] = ["$_", "$__", "$___"].map((n) => this.ns[n]);
    this.set("$___", b, c);
    this.set("$__", a, b);
    this.set("$_", value, a);
  }

  private set(name: string, value: unknown, current: unknown): void {
    const untouched = !(name in this.ns) || current === this.mine[name];
    if (!untouched) return;
    this.ns[name] = value;
    this.mine[name] = value;
  }
}
