/**
 * `npm run bench`: every benchmark under bench/, one child process each (a
 * fresh tfjs engine per benchmark), in order. Arguments after `--` name a
 * subset: `npm run bench -- kernel quantize`.
 */
import { spawnSync } from "child_process";
import * as path from "path";

const ALL = ["kernel", "profile", "training", "peer", "optimize", "prune", "quantize", "distill", "format", "onnx", "threads", "wasm-kernels"];

function main(): number {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !ALL.includes(w));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.join(", ")}; allowed: ${ALL.join(", ")}`);
    return 2;
  }
  for (const name of wanted.length ? wanted : ALL) {
    console.log(`\n== bench/${name}.ts`);
    const r = spawnSync(process.execPath, [path.join(__dirname, `${name}.js`)], { stdio: "inherit" });
    if (r.status !== 0) {
      console.error(`bench/${name}.ts failed (exit ${r.status})`);
      return 1;
    }
  }
  return 0;
}

process.exit(main());
