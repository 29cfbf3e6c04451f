import * as assert from "assert";
import { promises as fs } from "fs";
import * as path from "path";
import { SAVE_MARKER, SaveFile, isSlimlabFile, parseMarker, tagged, tempName, writeFileAtomic, writeSaveDir } from "../../../plugins/toolkit/safe-write";
import { assertRejects } from "./helpers";
import { crashAt, plant, recordSteps, scratch, snapshotTree, untilCrash } from "../../support/files";

/** A toy save: data files named by an entry "index.json", like shards by model.json. */
function toySave(text: string, parts = 2, sub = ""): (tag: string) => SaveFile[] {
  return (tag) => {
    const data = Array.from({ length: parts }, (_, i) => ({ name: `${sub}${tagged(`part${i + 1}.bin`, tag)}`, data: `${text}#${i + 1}` }));
    return [...data, { name: `${sub}index.json`, data: JSON.stringify({ text, parts: data.map((d) => d.name) }), entry: true }];
  };
}

/** Reads a toy save back the way a loader would, only through its entry; throws if anything it names is missing. */
async function readToy(dir: string, sub = ""): Promise<string> {
  const index = JSON.parse(await fs.readFile(path.join(dir, `${sub}index.json`), "utf8")) as { text: string; parts: string[] };
  const parts = await Promise.all(index.parts.map((p) => fs.readFile(path.join(dir, p), "utf8")));
  parts.forEach((p, i) => assert.strictEqual(p, `${index.text}#${i + 1}`));
  return index.text;
}

async function marker(dir: string): Promise<string[]> {
  const m = parseMarker(await fs.readFile(path.join(dir, SAVE_MARKER), "utf8"));
  assert.ok(typeof m !== "string", String(m));
  return [...m.files].sort();
}

const visible = async (dir: string) => (await fs.readdir(dir)).sort();

describe("toolkit/safe-write", () => {
  let root: string;
  beforeEach(async () => {
    root = await scratch();
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("tagged puts the tag before the extension, and nothing for an empty tag", () => {
    assert.strictEqual(tagged("group1-shard1of2.bin", "3fa9c2e1"), "group1-shard1of2.3fa9c2e1.bin");
    assert.strictEqual(tagged("tfjs/codes.bin", "ab"), "tfjs/codes.ab.bin");
    assert.strictEqual(tagged("a.b/weights", "ab"), "a.b/weights.ab");
    assert.strictEqual(tagged("codes.bin", ""), "codes.bin");
  });

  it("writes a new directory with standard names and a marker listing every file", async () => {
    const dir = path.join(root, "a", "m");
    const r = await writeSaveDir(dir, toySave("one", 2, "sub/"), { fn: "f", kind: "toy" });
    assert.strictEqual(r.tag, "");
    assert.deepStrictEqual(r.files, ["sub/part1.bin", "sub/part2.bin", "sub/index.json"]);
    assert.strictEqual(await readToy(dir, "sub/"), "one");
    assert.deepStrictEqual(await visible(dir), [SAVE_MARKER, "sub"]);
    assert.deepStrictEqual(await visible(path.join(dir, "sub")), ["index.json", "part1.bin", "part2.bin"], "no temporaries left");
    assert.deepStrictEqual(await marker(dir), ["sub/index.json", "sub/part1.bin", "sub/part2.bin"]);
    const m = JSON.parse(await fs.readFile(path.join(dir, SAVE_MARKER), "utf8"));
    assert.strictEqual(m.kind, "toy");
    assert.ok(Math.abs(Date.parse(m.date) - Date.now()) < 60_000, m.date);
    // an existing empty directory needs no force either
    const empty = path.join(root, "empty");
    await fs.mkdir(empty);
    await writeSaveDir(empty, toySave("two"), { fn: "f" });
    assert.strictEqual(await readToy(empty), "two");
  });

  it("force replaces an earlier save: new data under tagged names, old files gone, the user's own files kept", async () => {
    const dir = path.join(root, "m");
    await writeSaveDir(dir, toySave("old", 3), { fn: "f" });
    await plant(dir, { "NOTES.md": "mine" });
    await assertRejects(writeSaveDir(dir, toySave("new"), { fn: "f" }), "E_FILE", `f: directory ${JSON.stringify(dir)} holds an earlier slimlab save; pass --force (force: true) to replace it, or choose another directory`);
    assert.strictEqual(await readToy(dir), "old");
    const r = await writeSaveDir(dir, toySave("new", 2), { fn: "f", force: true });
    assert.match(r.tag, /^[0-9a-f]{8}$/);
    assert.strictEqual(await readToy(dir), "new");
    const expected = [`part1.${r.tag}.bin`, `part2.${r.tag}.bin`, "index.json"];
    assert.deepStrictEqual(r.files, expected);
    assert.deepStrictEqual(await visible(dir), [SAVE_MARKER, "NOTES.md", ...expected].sort());
    assert.strictEqual(await fs.readFile(path.join(dir, "NOTES.md"), "utf8"), "mine");
    assert.deepStrictEqual(await marker(dir), [...expected].sort());
    // a replacement may change layout: files the new save does not write are removed, with their emptied folders
    await writeSaveDir(dir, toySave("moved", 1, "sub/"), { fn: "f", force: true });
    await writeSaveDir(dir, toySave("back", 1), { fn: "f", force: true });
    assert.strictEqual(await readToy(dir), "back");
    assert.ok(!(await visible(dir)).includes("sub"), "the emptied sub/ is gone");
  });

  it("a crash at any step leaves the old or the new save readable; the next save removes the leftovers", async () => {
    const dir = path.join(root, "m");
    const steps = recordSteps();
    await writeSaveDir(dir, toySave("v0", 2), { fn: "f" });
    await writeSaveDir(dir, toySave("v1", 2), { fn: "f", force: true, onStep: steps.onStep });
    assert.deepStrictEqual(steps.steps.map((s) => s.replace(/\.[0-9a-f]{8}\./, ".T.")), ["written", "marked", "placed part1.T.bin", "placed part2.T.bin", "placed index.json", "cleaned"]);
    for (let k = 0; k < steps.steps.length; k++) {
      await writeSaveDir(dir, toySave("old", 2), { fn: "f", force: true });
      const afterRecovery = await visible(dir);
      assert.deepStrictEqual(afterRecovery.filter((n) => n.startsWith(".slimlab-tmp-")), [], "leftover temporaries are removed");
      assert.strictEqual(afterRecovery.length, 4, `only the marker, two parts and the index: ${afterRecovery}`);
      assert.deepStrictEqual(await marker(dir), afterRecovery.filter((n) => n !== SAVE_MARKER));
      const crash = crashAt(k);
      const step = await untilCrash(writeSaveDir(dir, toySave("new", 2), { fn: "f", force: true, onStep: crash.onStep }), crash.reached);
      const seen = await readToy(dir);
      assert.strictEqual(seen, k < 4 ? "old" : "new", `crash after step ${k} (${step})`);
      // every file slimlab put there (apart from temporaries) is listed in the marker, so the next save can remove it
      const listed = await marker(dir);
      for (const n of await visible(dir)) if (n !== SAVE_MARKER && !n.startsWith(".slimlab-tmp-")) assert.ok(listed.includes(n), `${n} unlisted after step ${step}`);
    }
    await writeSaveDir(dir, toySave("final", 1), { fn: "f", force: true });
    assert.strictEqual(await readToy(dir), "final");
    assert.strictEqual((await visible(dir)).length, 3);
  });

  it("a failure during a replacement reports E_FILE and keeps the old save; a failed first save leaves nothing", async () => {
    const dir = path.join(root, "m");
    await writeSaveDir(dir, toySave("old", 2), { fn: "f" });
    const failAt = (k: number) => {
      let n = 0;
      return () => {
        if (n++ === k) throw new Error("disk full");
      };
    };
    await assertRejects(writeSaveDir(dir, toySave("new", 2), { fn: "f", force: true, onStep: failAt(2) }), "E_FILE", `f: cannot write ${JSON.stringify(dir)}: disk full`);
    assert.strictEqual(await readToy(dir), "old");
    assert.deepStrictEqual((await visible(dir)).filter((n) => n.startsWith(".slimlab-tmp-")), [], "temporaries are removed at once");
    await writeSaveDir(dir, toySave("next", 2), { fn: "f", force: true });
    assert.strictEqual((await visible(dir)).length, 4, "the failed save's placed part is removed by the next save");

    const fresh = path.join(root, "fresh");
    await assertRejects(writeSaveDir(fresh, toySave("x"), { fn: "f", onStep: failAt(3) }), "E_FILE", `f: cannot write ${JSON.stringify(fresh)}: disk full`);
    assert.ok(!(await visible(root)).includes("fresh"), "the directory it created is removed");
    const empty = path.join(root, "empty");
    await fs.mkdir(empty);
    await assertRejects(writeSaveDir(empty, toySave("x"), { fn: "f", onStep: failAt(4) }), "E_FILE", /disk full$/);
    assert.deepStrictEqual(await visible(empty), [], "the user's empty directory stays, empty");
  });

  it("removes the .NAME.tmp-XXXXXX directories older versions left beside the target, never .NAME.old-* or others", async () => {
    await plant(root, {
      ".m.tmp-Ab12Cd/model.json": "{}",
      ".m.tmp-Ab12Cd/group1-shard1of1.bin": "w",
      ".m.old-0123456789ab/model.json": "{}",
      ".m.tmp-toolong1/keep": "x",
      ".mm.tmp-Ab12Cd/keep": "x",
      "m.tmp-Ab12Cd/keep": "x",
    });
    await writeSaveDir(path.join(root, "m"), toySave("x"), { fn: "f" });
    assert.deepStrictEqual(await visible(root), [".m.old-0123456789ab", ".m.tmp-toolong1", ".mm.tmp-Ab12Cd", "m", "m.tmp-Ab12Cd"]);
  });

  it("refuses bad file names, and an entry or data file over a file the earlier save did not write", async () => {
    const dir = path.join(root, "m");
    for (const name of ["../x", SAVE_MARKER, tempName("a"), "/abs"]) {
      await assertRejects(
        writeSaveDir(dir, () => [{ name, data: "x", entry: true }], { fn: "f" }),
        "E_ARG",
        `f: save file name ${JSON.stringify(name)} is not allowed; use unique relative paths without "..", other than .slimlab-save.json and slimlab's temporary names`
      );
    }
    assert.ok(!(await visible(root)).includes("m"), "nothing was created");
    await writeSaveDir(dir, toySave("old"), { fn: "f" });
    await plant(dir, { "other.json": "mine" });
    const before = await snapshotTree(dir);
    await assertRejects(
      writeSaveDir(dir, (tag) => [...toySave("new")(tag), { name: "other.json", data: "{}", entry: true }], { fn: "f", force: true }),
      "E_FILE",
      `f: ${JSON.stringify(dir)} already holds "other.json", which the earlier slimlab save did not write; move that file away or choose a new directory`
    );
    assert.deepStrictEqual(await snapshotTree(dir), before);
  });

  it("writeFileAtomic: writes, refuses to overwrite without force, with force replaces only its own files", async () => {
    const file = path.join(root, "out", "m.slim");
    const ownedIf = (p: string) => isSlimlabFile(p, "SLIM");
    assert.strictEqual(await writeFileAtomic(file, "SLIM-one", { fn: "saveSlim" }), file);
    assert.strictEqual(await fs.readFile(file, "utf8"), "SLIM-one");
    await assertRejects(writeFileAtomic(file, "SLIM-two", { fn: "saveSlim", ownedIf }), "E_FILE", `saveSlim: file ${JSON.stringify(file)} exists; pass --force (force: true) to replace it, or choose another file name`);
    await writeFileAtomic(file, new Uint8Array([0x53, 0x4c, 0x49, 0x4d, 0x32]), { fn: "saveSlim", force: true, ownedIf });
    assert.strictEqual(await fs.readFile(file, "utf8"), "SLIM2");
    const notes = path.join(root, "out", "notes.slim");
    await plant(root, { "out/notes.slim": "my notes" });
    await assertRejects(writeFileAtomic(notes, "SLIM", { fn: "saveSlim", force: true, ownedIf }), "E_FILE", /^saveSlim: file ".*notes\.slim" was not written by slimlab; --force only replaces/);
    assert.strictEqual(await fs.readFile(notes, "utf8"), "my notes");
    await assertRejects(writeFileAtomic(path.join(root, "out"), "SLIM", { fn: "saveSlim", force: true, ownedIf }), "E_FILE", /is a directory, not a file/);
    assert.deepStrictEqual(await visible(path.join(root, "out")), ["m.slim", "notes.slim"]);
  });

  it("writeFileAtomic: a crash before the rename keeps the old file whole; the next write removes the temporary, and only its own", async () => {
    const file = path.join(root, "m.slim");
    const ownedIf = (p: string) => isSlimlabFile(p, "SLIM");
    await writeFileAtomic(file, "SLIM-old", { fn: "f" });
    const other = tempName("other.slim");
    await plant(root, { [other]: "another file's temporary" });
    const crash = crashAt(0);
    assert.strictEqual(await untilCrash(writeFileAtomic(file, "SLIM-new", { fn: "f", force: true, ownedIf, onStep: crash.onStep }), crash.reached), "written");
    assert.strictEqual(await fs.readFile(file, "utf8"), "SLIM-old");
    const temps = (await visible(root)).filter((n) => n.endsWith("-m.slim") && n.startsWith(".slimlab-tmp-"));
    assert.strictEqual(temps.length, 1);
    assert.strictEqual(await fs.readFile(path.join(root, temps[0]), "utf8"), "SLIM-new");
    await writeFileAtomic(file, "SLIM-next", { fn: "f", force: true, ownedIf });
    assert.strictEqual(await fs.readFile(file, "utf8"), "SLIM-next");
    assert.deepStrictEqual(await visible(root), [other, "m.slim"].sort());
  });
});
