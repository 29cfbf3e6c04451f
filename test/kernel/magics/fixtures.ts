/** Test magics and helpers shared by the magic expansion tests. */
import { SlimlabError } from "../../../plugins/core/errors";
import { defineMagic, MagicSpec } from "../../../plugins/core/magic";
import { registerBuiltins } from "../../../kernel/magics/index";
import { MagicRegistry } from "../../../kernel/magics/registry";

export const IMPORT = 'import * as $slimlab from "slimlab"; ';

/** A magic with one flag of every kind, declared as a plugin would. */
export const probe = defineMagic({
  name: "probe",
  summary: "A test magic.",
  positional: [
    { name: "model", help: "the model" },
    { name: "more", help: "more values", optional: true, variadic: true },
  ],
  flags: {
    sparsity: { type: "number", min: 0, max: 1, help: "fraction of weights to zero", short: "s" },
    maxSteps: { type: "number", integer: true, min: 1, help: "steps" },
    mode: { type: "choice", choices: ["weight", "filter"], default: "weight", help: "what to prune" },
    strip: { type: "boolean", help: "strip the masks", short: "x" },
    bits: { type: "numbers", integer: true, min: 1, help: "bit widths" },
    data: { type: "value", help: "a dataset" },
    label: { type: "string", help: "a label" },
  },
  run: (args, flags) => ({ args, flags }),
});

/** A magic whose one positional is a path (text), like %load_plugin. */
export const open = defineMagic({
  name: "open",
  summary: "Opens a file.",
  positional: [{ name: "path", help: "a file", text: true }],
  flags: {},
  run: ([p]) => String(p),
});

/** A magic with exclusive bounds, a required flag and -o, as %prune / %distill declare them. */
export const fit = defineMagic({
  name: "fit",
  summary: "Fits a model.",
  positional: [{ name: "model", help: "the model" }],
  flags: {
    rate: { type: "number", above: 0, below: 1, help: "learning rate" },
    data: { type: "value", required: true, help: "training data" },
    epochs: { type: "number", integer: true, min: 1, default: 1, help: "epochs" },
  },
  examples: ["const f = %fit m --data train"],
  run: ([model], flags) => ({ model, flags, history: [0.5] }),
  output: { help: "return the whole fit", value: (r: { model: unknown }) => r.model },
  check(flags, given) {
    if (given.has("rate") && flags.rate !== undefined && (flags.epochs as number) * flags.rate > 10) {
      throw new SlimlabError("E_ARG", `%fit: --rate ${flags.rate} for ${flags.epochs} epochs goes over 10; lower one of them`);
    }
  },
});

export function registry(): MagicRegistry {
  const r = new MagicRegistry();
  registerBuiltins(r);
  r.register(probe as unknown as MagicSpec, "test");
  r.register(open as unknown as MagicSpec, "test");
  r.register(fit as unknown as MagicSpec, "test");
  return r;
}

export const call = (name: string, args: string, flags: string, line: string) =>
  `await $slimlab.runMagic(${JSON.stringify(name)}, [${args}], {${flags}}, ${JSON.stringify(line)})`;

