/**
 * How a value becomes a MIME bundle (the execute_result of a cell, or what
 * `display()` shows): tensors print as tfjs prints them, danfo frames as
 * HTML tables, objects that know their own rich form (`toMimeBundle()`,
 * e.g. slimlab figures) as that, everything else as Node's inspect.
 */
import { inspect } from "util";
import { MimeBundle } from "../../plugins/core/host";
import { dataFrameBundle } from "../../plugins/core/table";

export { escapeHtml } from "../../plugins/core/table";

export interface RichValue {
  toMimeBundle(): MimeBundle;
}

function isRich(v: unknown): v is RichValue {
  return typeof v === "object" && v !== null && typeof (v as RichValue).toMimeBundle === "function";
}

function isTensor(v: unknown): v is { toString(verbose?: boolean): string; shape: number[]; dtype: string; isDisposed: boolean } {
  return typeof v === "object" && v !== null && "dataSync" in v && "shape" in v && "dtype" in v && "rankType" in v;
}

/** danfojs DataFrame or Series, recognised without importing danfo. */
function isDanfo(v: unknown): v is { toString(): string; columns?: string[]; index: unknown[]; values: unknown[] } {
  const name = (v as { constructor?: { name?: string } })?.constructor?.name;
  return (name === "DataFrame" || name === "Series") && typeof v === "object" && v !== null && "$data" in v;
}

/** The MIME bundle for `value`. */
export function toMimeBundle(value: unknown): MimeBundle {
  if (isRich(value)) return value.toMimeBundle();
  if (isTensor(value)) {
    return { "text/plain": value.isDisposed ? `Tensor (disposed) shape=[${value.shape}] dtype=${value.dtype}` : value.toString() };
  }
  if (isDanfo(value)) return dataFrameBundle(value);
  if (typeof value === "string") return { "text/plain": value };
  return { "text/plain": inspect(value, { depth: 4, colors: false, maxArrayLength: 50 }) };
}
