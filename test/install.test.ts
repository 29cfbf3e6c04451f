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
  it("has exactly one @tensorflow/tfjs-core in node_modules (danfojs shares it through overrides)", () => {
    const found = copies("tfjs-core");
    assert.deepEqual(found.map((f) => path.relative(root, f)), ["node_modules/@tensorflow/tfjs-core"]);
    assert.equal(JSON.parse(fs.readFileSync(path.join(found[0], "package.json"), "utf8")).version, "4.22.0");
  });

  it("pins tslab 1.0.22 and keeps tfjs-node and tfjs-node-gpu optional", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    assert.equal(pkg.dependencies.tslab, "1.0.22");
    for (const name of ["@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu"]) {
      assert.equal(pkg.optionalDependencies[name], "4.22.0", name);
      assert.equal(pkg.dependencies[name], undefined, name);
    }
  });

  it("leaves the name @tensorflow/tfjs-node to the real package: no alias in node_modules", () => {
    const pj = path.join(root, "node_modules", "@tensorflow", "tfjs-node", "package.json");
    if (fs.existsSync(pj)) assert.equal(JSON.parse(fs.readFileSync(pj, "utf8")).name, "@tensorflow/tfjs-node");
  });

  it("resolves danfojs's tfjs to the project's one", () => {
    // danfojs asks for @tensorflow/tfjs ^3.13; the override gives it the project's 4.22.
    const danfoTf = require(require.resolve("@tensorflow/tfjs", { paths: [path.join(root, "node_modules", "danfojs")] }));
    const tf = require("@tensorflow/tfjs");
    assert.equal(danfoTf.engine(), tf.engine());
    const df = new (require("danfojs").DataFrame)([{ a: 1 }, { a: 2 }]);
    assert.deepEqual(df.shape, [2, 1]);
  });
});
