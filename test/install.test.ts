import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";

const root = path.resolve(__dirname, "..", "..");

/** Every folder under node_modules named @tensorflow/<pkg> holding a package.json. */
function copies(pkg: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 8 || !fs.existsSync(dir)) return;
    for (const name of fs.readdirSync(dir)) {
      const sub = path.join(dir, name);
      if (name === "@tensorflow" && fs.existsSync(path.join(sub, pkg, "package.json"))) found.push(path.join(sub, pkg));
      const nested = name.startsWith("@") ? fs.readdirSync(sub).map((n) => path.join(sub, n)) : [sub];
      for (const n of nested) walk(path.join(n, "node_modules"), depth + 1);
    }
  };
  walk(path.join(root, "node_modules"), 0);
  return found;
}

describe("install", () => {
  it("has exactly one @tensorflow/tfjs-core in node_modules (danfojs-node shares it through overrides)", () => {
    const found = copies("tfjs-core");
    assert.deepEqual(found.map((f) => path.relative(root, f)), ["node_modules/@tensorflow/tfjs-core"]);
    assert.equal(JSON.parse(fs.readFileSync(path.join(found[0], "package.json"), "utf8")).version, "4.22.0");
  });

  it("pins tslab 1.0.22 and keeps tfjs-node-gpu optional", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    assert.equal(pkg.dependencies.tslab, "1.0.22");
    assert.equal(pkg.optionalDependencies["@tensorflow/tfjs-node-gpu"], "4.22.0");
    assert.equal(pkg.dependencies["@tensorflow/tfjs-node-gpu"], undefined);
  });

  it("resolves danfojs-node's tfjs to the project's one", () => {
    // danfo asks for "@tensorflow/tfjs-node"; the override aliases it to @tensorflow/tfjs 4.22.
    const danfoTf = require(require.resolve("@tensorflow/tfjs-node", { paths: [path.join(root, "node_modules", "danfojs-node")] }));
    const tf = require("@tensorflow/tfjs");
    assert.equal(danfoTf.engine(), tf.engine());
  });
});
