/**
 * A minimal slimlab plugin: `%hello <who> [--loud]`.
 *
 * Load it in a notebook with
 *
 *   %load_plugin ./examples/hello-plugin.js
 *   %hello world            // "hello, world"
 *   %hello world --loud     // "HELLO, WORLD!"
 *   const s = %hello {name} // the value is the magic's result
 *
 * The contract (kernel/magics/plugins.ts): a CommonJS module (or a .ts file)
 * exporting `magics`, an array of magic declarations. In TypeScript, inside a
 * project that depends on slimlab, write each one with
 * `defineMagic({...})` from "slimlab" to get the flag types checked. A plain
 * .js file outside such a project cannot require "slimlab"; `defineMagic`
 * returns its argument unchanged, so the object literal below is exactly what
 * it would produce.
 */
"use strict";

const hello = {
  name: "hello",
  summary: "Greets someone (an example plugin).",
  description: "The result is the greeting, so `const s = %hello you` keeps it.",
  // `text: true`: a bare word is the text itself, not a notebook variable;
  // {expression} and $name still take a value from the notebook.
  positional: [{ name: "who", help: "whom to greet", text: true }],
  flags: {
    loud: { type: "boolean", help: "shout the greeting", short: "l" },
  },
  examples: ["%hello world", "%hello world --loud", "const s = %hello {name}"],
  run([who], { loud }) {
    const text = `hello, ${String(who)}`;
    return loud ? `${text.toUpperCase()}!` : text;
  },
};

module.exports = { magics: [hello] };
