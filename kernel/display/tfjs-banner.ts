/**
 * TensorFlow.js prints, once per process, a banner asking to install
 * tfjs-node whenever its CPU backend is first used in Node
 * (tfjs-backend-cpu's MathBackendCPU.write, through console.warn). slimlab
 * chooses its backend itself and says why (%backend), so in a notebook that
 * banner is only a red block of noise: the kernel and `slimlab run` drop
 * exactly that message. Every other warning is printed as before.
 */

/** The start of tfjs' banner, after its line of "=". */
const BANNER = /^\s*=+\s*Hi, looks like you are running TensorFlow\.js in Node\.js\. To speed things up dramatically, install our node backend/;

/** True for tfjs' "install the node backend" banner (console.warn's arguments). */
export function isTfjsNodeBanner(args: unknown[]): boolean {
  return args.length === 1 && typeof args[0] === "string" && BANNER.test(args[0]);
}

const INSTALLED = Symbol.for("slimlab.tfjsBannerFilter");

/** Makes `target.warn` (default: the global console) drop tfjs' banner. Installing twice is a no-op. */
export function suppressTfjsNodeBanner(target: Console = console): void {
  const warn = target.warn as Console["warn"] & { [INSTALLED]?: true };
  if (warn[INSTALLED]) return;
  const filtered = function (this: Console, ...args: unknown[]): void {
    if (isTfjsNodeBanner(args)) return;
    warn.apply(this, args);
  } as Console["warn"] & { [INSTALLED]?: true };
  filtered[INSTALLED] = true;
  target.warn = filtered;
}
