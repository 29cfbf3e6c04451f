import * as assert from "assert";
import { promises as fs } from "fs";
import * as path from "path";
import {
  SAVE_MARKER,
  assertReplaceable,
  isInsideName,
  isSlimlabFile,
  isTempName,
  parseMarker,
  protectedPlace,
  tempName,
} from "../../../plugins/toolkit/safe-target";
import { writeSaveDir } from "../../../plugins/toolkit/safe-write";
import { assertRejects } from "./helpers";
import { assertUnchanged, plant, scratch, snapshotTree, withCwd } from "../../support/files";

const MARKER = JSON.stringify({ format: "slimlab-save", version: 1, date: "2024-01-01T00:00:00.000Z", files: ["model.json"] });
const refusal = (fn: string, shown: string, why: string) =>
  `${fn}: ${JSON.stringify(shown)} is ${why}, which a save never replaces (--force only replaces an earlier slimlab save); choose a new directory such as "./saved-model"`;

describe("toolkit/safe-target", () => {
  let root: string;
  beforeEach(async () => {
    root = await scratch();
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("protectedPlace names roots, the working and home directories and their ancestors, and nothing else", () => {
    const places = { cwd: "/w/nb", home: "/home/ann" };
    assert.strictEqual(protectedPlace("/", places), "a filesystem root");
    assert.strictEqual(protectedPlace("/w/nb", places), "the working directory");
    assert.strictEqual(protectedPlace("/w", places), 'an ancestor of the working directory ("/w/nb")');
    assert.strictEqual(protectedPlace("/home/ann", places), "the home directory");
    assert.strictEqual(protectedPlace("/home", places), 'an ancestor of the home directory ("/home/ann")');
    assert.strictEqual(protectedPlace("/w/nb/out", places), undefined);
    assert.strictEqual(protectedPlace("/w/nb-out", places), undefined, "a name prefix is not an ancestor");
    assert.strictEqual(protectedPlace("/w/..nb", places), undefined);
    assert.strictEqual(protectedPlace("/home/ann/models/q8", places), undefined);
  });

  it("parseMarker accepts slimlab's marker and says what is wrong with anything else", () => {
    const ok = parseMarker(MARKER);
    assert.ok(typeof ok !== "string");
    assert.deepStrictEqual(ok.files, ["model.json"]);
    assert.strictEqual(parseMarker("{"), "it is not JSON");
    assert.strictEqual(parseMarker('{"format":"other"}'), 'its format is "other", not "slimlab-save"');
    assert.strictEqual(parseMarker('{"format":"slimlab-save","version":2,"files":[]}'), "its version is 2; this slimlab reads version 1");
    for (const bad of ["../notes.txt", "/etc/passwd", "a//b", "./x", "", SAVE_MARKER]) {
      const m = JSON.stringify({ format: "slimlab-save", version: 1, date: "", files: ["model.json", bad] });
      assert.strictEqual(parseMarker(m), `it lists ${JSON.stringify(bad)}, which is not a file inside the directory`);
    }
  });

  it("recognises its own temporary names only, and names that stay inside a directory", () => {
    const t = tempName("model.json");
    assert.match(t, /^\.slimlab-tmp-[0-9a-f]{12}-model\.json$/);
    assert.notStrictEqual(tempName("model.json"), t);
    assert.ok(isTempName(t) && isTempName(t, "model.json"));
    assert.ok(!isTempName(t, "codes.bin"));
    for (const n of [".slimlab-tmp-xyz-model.json", ".slimlab-tmp-3f9c0a17b2e4", "model.json", ".model.json.tmp-abc123"]) assert.ok(!isTempName(n), n);
    assert.ok(isInsideName("tfjs/model.json"));
    for (const n of ["", "..", "a/../b", "/x", "a\\b", "a/", "./a"]) assert.ok(!isInsideName(n), n);
  });

  it("assertReplaceable: absent and empty (temporaries aside) need no force; an earlier save needs it; others are refused", async () => {
    const d = path.join(root, "m");
    assert.deepStrictEqual(await assertReplaceable(d, { fn: "f" }), { state: "absent" });
    await plant(d, { [tempName("model.json")]: "half" });
    assert.deepStrictEqual(await assertReplaceable(d, { fn: "f" }), { state: "empty" });
    await plant(d, { [SAVE_MARKER]: MARKER, "model.json": "{}" });
    await assertRejects(assertReplaceable(d, { fn: "f" }), "E_FILE", `f: directory ${JSON.stringify(d)} holds an earlier slimlab save; pass --force (force: true) to replace it, or choose another directory`);
    const state = await assertReplaceable(d, { fn: "f", force: true });
    assert.strictEqual(state.state === "save" && state.marker.files[0], "model.json");

    const mine = path.join(root, "mine");
    await plant(mine, { "model.json": "{}", "group1-shard1of1.bin": "w" });
    const unmarked = `f: directory ${JSON.stringify(mine)} is not empty and is not a slimlab save (no .slimlab-save.json); slimlab only replaces its own saves, so choose a new directory, or delete this one by hand if it is a save from an older slimlab`;
    await assertRejects(assertReplaceable(mine, { fn: "f" }), "E_FILE", unmarked, { oneLine: true });
    await assertRejects(assertReplaceable(mine, { fn: "f", force: true }), "E_FILE", unmarked);

    await plant(mine, { [SAVE_MARKER]: JSON.stringify({ format: "slimlab-save", version: 1, date: "", files: ["../../x"] }) });
    await assertRejects(
      assertReplaceable(mine, { fn: "f", force: true }),
      "E_FILE",
      `f: the .slimlab-save.json in ${JSON.stringify(mine)} is damaged (it lists "../../x", which is not a file inside the directory), so slimlab cannot tell which files it wrote; choose a new directory, or delete this one by hand`
    );
    const file = path.join(root, "file.txt");
    await plant(root, { "file.txt": "x" });
    await assertRejects(assertReplaceable(file, { fn: "f", force: true }), "E_FILE", `f: ${JSON.stringify(file)} is a file, not a directory; choose a directory path`);
    await assertRejects(assertReplaceable(d, { fn: "f", force: true, kind: "file" }), "E_FILE", `f: ${JSON.stringify(d)} is a directory, not a file; choose a file path`);
  });

  it("assertReplaceable for files: force replaces only what ownedIf recognises, never a link", async () => {
    const slim = path.join(root, "m.slim");
    const other = path.join(root, "notes.slim");
    await plant(root, { "m.slim": "SLIM\u0001rest", "notes.slim": "my notes" });
    const ownedIf = (p: string) => isSlimlabFile(p, "SLIM\u0001");
    await assertRejects(assertReplaceable(slim, { fn: "f", kind: "file", ownedIf }), "E_FILE", `f: file ${JSON.stringify(slim)} exists; pass --force (force: true) to replace it, or choose another file name`);
    assert.deepStrictEqual(await assertReplaceable(slim, { fn: "f", kind: "file", force: true, ownedIf }), { state: "own-file" });
    const notOwn = `f: file ${JSON.stringify(other)} was not written by slimlab; --force only replaces a file slimlab wrote, so choose a new file name, or delete this one by hand`;
    await assertRejects(assertReplaceable(other, { fn: "f", kind: "file", force: true, ownedIf }), "E_FILE", notOwn);
    await assertRejects(assertReplaceable(other, { fn: "f", kind: "file", force: true }), "E_FILE", notOwn, { oneLine: true });
    const link = path.join(root, "link.slim");
    await fs.symlink(slim, link);
    await assertRejects(assertReplaceable(link, { fn: "f", kind: "file", force: true, ownedIf }), "E_FILE", `f: ${JSON.stringify(link)} is not a regular file (a link or device); choose a new file path`);
  });

  it("isSlimlabFile compares the caller's magic prefix", async () => {
    await plant(root, { a: "SLIM\u0001xyz", b: "SLIM", c: "slim\u0001xyz" });
    assert.strictEqual(await isSlimlabFile(path.join(root, "a"), "SLIM\u0001"), true);
    assert.strictEqual(await isSlimlabFile(path.join(root, "a"), new Uint8Array([0x53, 0x4c, 0x49, 0x4d, 1])), true);
    assert.strictEqual(await isSlimlabFile(path.join(root, "b"), "SLIM\u0001"), false, "too short");
    assert.strictEqual(await isSlimlabFile(path.join(root, "c"), "SLIM\u0001"), false);
    assert.strictEqual(await isSlimlabFile(path.join(root, "missing"), "SLIM"), false);
    assert.strictEqual(await isSlimlabFile(root, "SLIM"), false, "a directory");
    assert.strictEqual(await isSlimlabFile(path.join(root, "a"), ""), false, "an empty magic recognises nothing");
  });

  it("refuses the working directory, its ancestors, home and / even with force and a marker; nothing in them changes", async () => {
    // root/ has a marker (as if an earlier save), a notebook and data; the user works in root/nb/, home is root/home/.
    await plant(root, {
      [SAVE_MARKER]: MARKER,
      "model.json": "{}",
      "nb/analysis.ipynb": '{"cells": []}',
      "nb/data/train.csv": "x,y\n1,2\n",
      [`nb/${SAVE_MARKER}`]: MARKER,
      "home/.bashrc": "export A=1",
      [`home/${SAVE_MARKER}`]: MARKER,
    });
    const nb = path.join(root, "nb");
    const home = path.join(root, "home");
    await fs.symlink(nb, path.join(nb, "here"));
    const before = await snapshotTree(root);
    const files = () => [{ name: "model.json", data: "{}", entry: true }];
    await withCwd(
      nb,
      async () => {
        const save = (dir: string) => writeSaveDir(dir, files, { fn: "saveModel", force: true });
        await assertRejects(save("."), "E_FILE", refusal("saveModel", ".", "the working directory"), { oneLine: true });
        await assertRejects(save("here"), "E_FILE", refusal("saveModel", "here", "the working directory"));
        await assertRejects(save(".."), "E_FILE", refusal("saveModel", "..", `an ancestor of the working directory (${JSON.stringify(nb)})`));
        await assertRejects(save(root), "E_FILE", refusal("saveModel", root, `an ancestor of the working directory (${JSON.stringify(nb)})`));
        await assertRejects(save(home), "E_FILE", refusal("saveModel", home, "the home directory"));
        await assertRejects(save("/"), "E_FILE", refusal("saveModel", "/", "a filesystem root"));
        await assertRejects(assertReplaceable(".", { fn: "f" }), "E_FILE", refusal("f", ".", "the working directory"));
      },
      home
    );
    await assertUnchanged(root, before);
  });
});
