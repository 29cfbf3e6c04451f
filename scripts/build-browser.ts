/**
 * Builds dist/browser/slimlab-loader.js, the classic script that gives a
 * web page `slimlab.loadSlim(url)` (browser/loader.ts), and prints its
 * gzipped size. Run by `npm run build` after tsc:
 *
 *   node dist/scripts/build-browser.js
 *
 * esbuild bundles browser/loader.ts with the decode core it imports into
 * one minified ES2017 IIFE. "@tensorflow/tfjs" is not bundled: it resolves
 * to a one-line module holding the page's global `tf`. fflate (plain-JS
 * inflate for the compressed header) is bundled. The build fails when a Node
 * built-in, another package, or a file outside browser/, plugins/ and the
 * bundled packages would end up in the script.
 */
import * as esbuild from "esbuild";
import { builtinModules } from "module";
import * as fs from "fs";
import * as path from "path";
import { gzipSync } from "zlib";

const ROOT = path.resolve(__dirname, "..", "..");
/** Where the script lands, relative to the repository. */
export const LOADER_PATH = "dist/browser/slimlab-loader.js";
/** The size the README promises (gzipped bytes). */
export const GZIP_GOAL = 25 * 1024;

/** What buildBrowserLoader made. */
export interface LoaderBuild {
  /** Absolute path of the script. */
  file: string;
  bytes: number;
  /** Size after gzip -9, as a web server would send it. */
  gzipBytes: number;
  /** The source files bundled, relative to the repository. */
  inputs: string[];
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
/** Packages bundled into the script (pure JS, no Node built-ins). */
const BUNDLED = ["fflate"];

/** Resolves "@tensorflow/tfjs" to the page's global and refuses everything a browser script must not carry. */
const pageOnly: esbuild.Plugin = {
  name: "slimlab-page-only",
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs$/ }, () => ({ path: "tf", namespace: "page-global" }));
    build.onLoad({ filter: /.*/, namespace: "page-global" }, () => ({ contents: "module.exports = globalThis.tf;", loader: "js" }));
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind === "entry-point") return undefined;
      const root = args.path.split("/")[0];
      if (BUNDLED.includes(root)) return undefined; // esbuild resolves it (its "browser" build)
      const why = BUILTINS.has(args.path) || BUILTINS.has(root) ? "a Node built-in" : "a package other than @tensorflow/tfjs (which the page provides)";
      return { errors: [{ text: `${args.path} is ${why}, imported by ${path.relative(ROOT, args.importer)}; the browser loader may use only the decode core and the page's tf` }] };
    });
  },
};

/** Node-only globals that esbuild would leave in the script unresolved. */
const NODE_GLOBALS = /\b(process\.(env|versions|platform|cwd)|Buffer\.(from|alloc|concat)|__dirname|__filename|require\()/;

/**
 * Bundles browser/loader.ts into dist/browser/slimlab-loader.js (and its
 * source map).
 *
 * @param options entry (default browser/loader.ts) and outfile (default
 *   {@link LOADER_PATH}), relative to the repository or absolute
 * @returns the script's path, sizes and bundled inputs
 * @throws Error when esbuild fails, a Node built-in or another package is
 *   imported, or the output refers to Node globals
 * @example
 *   const { gzipBytes } = await buildBrowserLoader();
 */
export async function buildBrowserLoader(options: { entry?: string; outfile?: string } = {}): Promise<LoaderBuild> {
  const outfile = path.resolve(ROOT, options.outfile ?? LOADER_PATH);
  let result: esbuild.BuildResult<{ metafile: true; write: false }>;
  try {
    result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [options.entry ?? "browser/loader.ts"],
      outfile,
      bundle: true,
      format: "iife",
      globalName: "slimlab",
      platform: "browser",
      target: "es2017",
      minify: true,
      sourcemap: "linked",
      legalComments: "none",
      metafile: true,
      write: false,
      logLevel: "silent",
      plugins: [pageOnly],
    });
  } catch (e) {
    const errors = (e as esbuild.BuildFailure).errors;
    if (!errors) throw e;
    throw new Error(`build-browser: ${errors.map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ""}${m.text}`).join("; ")}`);
  }
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith("page-global:"));
  const stray = inputs.filter((p) => !/^(browser|plugins)\//.test(p) && !BUNDLED.some((b) => p.includes(`node_modules/${b}/`))); // node_modules may be a symlink (a worktree)
  if (stray.length > 0) throw new Error(`build-browser: ${stray.join(", ")} would be bundled; the loader may use only browser/, plugins/ and ${BUNDLED.join(", ")}`);
  const js = result.outputFiles.find((f) => f.path === outfile);
  if (js === undefined) throw new Error(`build-browser: esbuild wrote no ${outfile}`);
  const node = NODE_GLOBALS.exec(js.text);
  if (node) throw new Error(`build-browser: the script refers to the Node global ${node[1]}; keep Node code out of the decode core`);
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  for (const f of result.outputFiles) fs.writeFileSync(f.path, f.contents);
  return { file: outfile, bytes: js.contents.length, gzipBytes: gzipSync(js.contents, { level: 9 }).length, inputs };
}

if (require.main === module) {
  buildBrowserLoader().then(
    (b) => {
      const kb = (n: number) => (n / 1024).toFixed(1);
      console.log(`${path.relative(ROOT, b.file)}: ${kb(b.bytes)} KB, ${kb(b.gzipBytes)} KB gzipped (goal ≤ ${kb(GZIP_GOAL)} KB), ${b.inputs.length} source files`);
    },
    (e: Error) => {
      console.error(e.message);
      process.exitCode = 1;
    },
  );
}
