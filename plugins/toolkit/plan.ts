/**
 * A per-layer compression plan, as `%quantize --plan` and `%prune --plan`
 * read it: bits per layer and sparsity per layer. It is usually chosen by
 * analyze() (plugins/analyze) from measured single-layer accuracy drops;
 * this module only reads one, so quantize and prune need not depend on the
 * analysis itself.
 */
import { SlimlabError, show } from "../core/errors";

/** Bits and sparsity per layer name, with what they were measured with. */
export interface CompressionPlan {
  /** Layer name → bits of its weights. */
  layerBits: Record<string, number>;
  /** Layer name → fraction of its kernel to prune (0: leave it dense). */
  layerSparsity: Record<string, number>;
  /** The quantization scheme the bits were measured with. */
  scheme?: string;
  /** Whether the bits were measured with one scale per output channel. */
  perChannel?: boolean;
  /** The largest single-layer accuracy drop (percentage points) each choice was allowed. */
  maxDrop?: number;
}

/** Something that chooses a plan for a largest accuracy drop: an AnalyzeResult. */
export interface Planner {
  plan(options?: { maxDrop?: number }): CompressionPlan;
}

function isPlanner(v: unknown): v is Planner {
  return typeof v === "object" && v !== null && typeof (v as Planner).plan === "function";
}

function isRecordOf(v: unknown, ok: (x: unknown) => boolean): v is Record<string, number> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every(ok);
}

/**
 * Reads a --plan value: an analysis (its plan for `maxDrop` is chosen
 * here) or a plan already chosen (`analysis.plan({maxDrop: 0.5})`, or one
 * written by hand).
 *
 * @param value the notebook value given to --plan
 * @param maxDrop --max-drop, in percentage points (only with an analysis)
 * @param magic the magic's name, for messages ("%quantize")
 * @returns the plan
 * @throws SlimlabError E_TYPE for a value that is neither; E_ARG for
 *   --max-drop with a plan already chosen
 * @example
 *   readPlan(analysis, 0.5, "%prune").layerSparsity; // { fc1: 0.9, fc2: 0.5 }
 */
export function readPlan(value: unknown, maxDrop: number | undefined, magic: string): CompressionPlan {
  if (isPlanner(value)) return value.plan(maxDrop === undefined ? {} : { maxDrop });
  const v = value as Partial<CompressionPlan> | null;
  if (typeof v === "object" && v !== null && isRecordOf(v.layerBits ?? {}, Number.isInteger) && isRecordOf(v.layerSparsity ?? {}, (x) => typeof x === "number")) {
    if (maxDrop !== undefined) {
      throw new SlimlabError("E_ARG", `${magic}: --max-drop ${maxDrop} applies to an analysis; this plan was already chosen${v.maxDrop === undefined ? "" : ` (for max drop ${v.maxDrop})`}, so pass the analysis itself or drop --max-drop`);
    }
    return { layerBits: { ...(v.layerBits ?? {}) }, layerSparsity: { ...(v.layerSparsity ?? {}) }, scheme: v.scheme, perChannel: v.perChannel, maxDrop: v.maxDrop };
  }
  throw new SlimlabError("E_TYPE", `${magic}: --plan got ${show(value)}; expected the result of %analyze (or its .plan()), e.g. const a = %analyze model --data val; then --plan a`);
}
