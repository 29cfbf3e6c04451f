/** The registry refuses declarations that break the magic contract, naming the plugin. */
import { strict as assert } from "assert";
import { isSlimlabError } from "../../../plugins/core/errors";
import { MagicSpec } from "../../../plugins/core/magic";
import { MagicRegistry } from "../../../kernel/magics/registry";

const base = { summary: "s", positional: [], flags: {}, run: () => 1 };

describe("kernel/magics/registry", () => {
  const refuses = (spec: unknown, message: string) =>
    assert.throws(
      () => new MagicRegistry().register(spec as MagicSpec, "/p.js"),
      (e: unknown) => isSlimlabError(e) && e.code === "E_PLUGIN" && e.message === message,
    );

  it("refuses an output declaration without value()", () => {
    refuses({ ...base, name: "a", output: { help: "h" } }, '/p.js: magic %a declares output without help and value(result); see "Writing a plugin" in the README');
  });

  it("refuses output together with an --output flag or a -o short form", () => {
    const output = { help: "h", value: (r: unknown) => r };
    const clash = "/p.js: magic %b declares output, which adds -o/--output, and a flag of that name too; drop one of them";
    refuses({ ...base, name: "b", output, flags: { output: { type: "boolean", help: "x" } } }, clash);
    refuses({ ...base, name: "b", output, flags: { other: { type: "boolean", help: "x", short: "o" } } }, clash);
  });

  it("refuses a check that is not a function", () => {
    refuses({ ...base, name: "c", check: true }, "/p.js: magic %c has a check that is not a function");
  });

  it("refuses argNames that is not a boolean", () => {
    refuses({ ...base, name: "e", argNames: "yes" }, '/p.js: magic %e has argNames "yes"; allowed: true or false');
  });

  it("takes a declaration with output and check", () => {
    const r = new MagicRegistry();
    r.register({ ...base, name: "d", output: { help: "h", value: (x: unknown) => x }, check: () => undefined } as unknown as MagicSpec, "/p.js");
    assert.equal(r.get("d")?.name, "d");
  });
});
