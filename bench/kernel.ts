/**
 * Kernel overhead against plain tslab, both measured in this run over real
 * ZMQ sockets with the test client: start-up (spawn → first kernel_info
 * reply), per-cell latency of a trivial cell and of a magic cell (request →
 * execute_reply), and the magic's own parsing in-process.
 * Goals (issue 2): no slower than tslab on trivial cells; parsing < 5 ms.
 *
 *   node dist/bench/kernel.js [--runs N]
 */
import * as os from "os";
import { expandCell } from "../kernel/magics/expand";
import { MagicRegistry } from "../kernel/magics/registry";
import { registerBuiltins } from "../kernel/magics/index";
import { KernelClient, PLAIN_TSLAB, SLIMLAB } from "../test/kernel/zmq-client";
import { median, numberArg, repeat, table } from "./stats";

async function startup(argv: typeof SLIMLAB, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const c = await KernelClient.start(os.tmpdir(), 60000, argv);
    out.push(Number(process.hrtime.bigint() - t0) / 1e9);
    await c.close();
  }
  return out;
}

async function cellLatency(c: KernelClient, code: string, runs: number): Promise<number[]> {
  return repeat(async () => {
    const r = await c.execute(code, 60000);
    if (r.reply.content.status !== "ok") throw new Error(`${code}: ${JSON.stringify(r.reply.content)}`);
  }, runs, 5);
}

async function main(): Promise<void> {
  const runs = numberArg("--runs", 30);
  const starts = numberArg("--starts", 3);
  const ms = (s: number) => (s * 1e3).toFixed(1);

  const slimStart = median(await startup(SLIMLAB, starts));
  const tslabStart = median(await startup(PLAIN_TSLAB, starts));

  const slim = await KernelClient.start(os.tmpdir(), 60000, SLIMLAB);
  const slimTrivial = median(await cellLatency(slim, "1 + 1", runs));
  const slimMagic = median(await cellLatency(slim, "%lsmagic", runs));
  await slim.close();
  const tslab = await KernelClient.start(os.tmpdir(), 60000, PLAIN_TSLAB);
  const tslabTrivial = median(await cellLatency(tslab, "1 + 1", runs));
  await tslab.close();

  const registry = new MagicRegistry();
  registerBuiltins(registry);
  const line = "const t = %timeit -o -n 20 -r 5 (model.predict(x) as tf.Tensor).dispose()";
  const parse = median(await repeat(() => expandCell(line, registry), 200, 20));

  console.log(table(
    ["measure", "slimlab ms", "plain tslab ms", "slimlab / tslab"],
    [
      ["kernel start (median of " + starts + ")", ms(slimStart), ms(tslabStart), (slimStart / tslabStart).toFixed(2)],
      ["trivial cell `1 + 1` (median of " + runs + ")", ms(slimTrivial), ms(tslabTrivial), (slimTrivial / tslabTrivial).toFixed(2)],
      ["magic cell `%lsmagic`", ms(slimMagic), "-", "-"],
      ["parsing one magic line (in-process)", (parse * 1e3).toFixed(3), "-", "-"],
    ],
  ));
  console.log(`goal: trivial cell no slower than tslab: ${slimTrivial <= tslabTrivial * 1.05 ? "met" : "NOT met"}; magic parsing < 5 ms: ${parse < 0.005 ? "met" : "NOT met"}`);
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
