// The package: built from its one source, versioned with the server, and
// installable from the tarball `npm pack` makes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, writeFileSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { build, PARTS } from "../build.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, "..");
const repo = join(pkgDir, "..", "..");
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
const require = createRequire(import.meta.url);

test("dist/ is exactly what the build makes of src/", () => {
  for (const [path, text] of Object.entries(build())) {
    assert.equal(readFileSync(path, "utf8"), text, path + " is stale: run node clients/js/build.mjs");
  }
});

test("the server embeds the same sources in the same order as the package", () => {
  const demo = readFileSync(join(repo, "src", "http", "routes", "demo.rs"), "utf8");
  const embedded = [...demo.matchAll(/include_str!\("\.\.\/\.\.\/\.\.\/clients\/js\/src\/([a-z]+\.js)"\)/g)].map((m) => m[1]);
  assert.deepEqual(embedded, PARTS);
});

test("the package, the module and the server share one version", async () => {
  const cargo = readFileSync(join(repo, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];
  assert.equal(pkg.version, cargo);
  const esm = await import("../dist/cartseal-client.mjs");
  assert.equal(esm.VERSION, cargo);
  assert.equal(require("../dist/cartseal-client.cjs").VERSION, cargo);
  assert.deepEqual(pkg.dependencies, undefined, "no dependencies");
});

test("the ES module and CommonJS builds export the same API, and the types name it", async () => {
  const esm = await import("../dist/cartseal-client.mjs");
  const cjs = require("../dist/cartseal-client.cjs");
  const names = Object.keys(cjs).sort();
  assert.deepEqual(Object.keys(esm).filter((k) => k !== "default").sort(), names);
  const types = readFileSync(join(pkgDir, pkg.types), "utf8");
  for (const name of names) assert.match(types, new RegExp("export (declare )?(const|function|class) " + name + "\\b"), name);
  for (const file of [pkg.main, pkg.module, pkg.exports["."].import, pkg.exports["."].require, pkg.exports["./script"]]) {
    assert.ok(existsSync(join(pkgDir, file)), file);
  }
});

test("every error code of the server has a message, and the docs list every code", async () => {
  const { MESSAGES } = await import("../dist/cartseal-client.mjs");
  const table = readFileSync(join(repo, "src", "http", "error.rs"), "utf8");
  const codes = [...table.matchAll(/row\(S::\w+,\s*"([a-z_]+)"/g)].map((m) => m[1]);
  assert.ok(codes.length >= 16, "found the error table: " + codes);
  const docs = readFileSync(join(repo, "docs", "api.md"), "utf8");
  const own = ["network", "timeout", "cors_refused", "cookie_blocked", "unexpected_response"];
  for (const code of [...codes, ...own]) {
    assert.ok(Object.hasOwn(MESSAGES, code), "a message for " + code);
    assert.ok(docs.includes("`" + code + "`"), "docs/api.md lists " + code);
  }
  assert.ok(docs.includes("`http_<status>`"), "docs/api.md lists the fallback code");
});

// Needs npm, which scripts/test does not install (Debian's npm package
// conflicts with its nodejs): skipped, and said so, where it is missing.
const npm = spawnSync("npm", ["--version"], { encoding: "utf8" });
test("npm pack makes a tarball that installs and imports", { skip: npm.status !== 0 && "npm is not installed" }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), "cartseal-pack-"));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: pkgDir, encoding: "utf8" });
  const [{ filename, files }] = JSON.parse(out);
  const packed = files.map((f) => f.path).sort();
  assert.deepEqual(packed, ["README.md", "cartseal-client.d.ts", "dist/cartseal-client.cjs", "dist/cartseal-client.js", "dist/cartseal-client.mjs", "package.json"]);
  const app = join(work, "shop");
  mkdirSync(join(app, "node_modules", "cartseal-client"), { recursive: true });
  execFileSync("tar", ["-xzf", join(work, filename), "-C", join(app, "node_modules", "cartseal-client"), "--strip-components=1"]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "shop", private: true }));
  const esm = await import(pathToFileURL(join(app, "node_modules", "cartseal-client", "dist", "cartseal-client.mjs")));
  const viaName = createRequire(join(app, "index.js"))("cartseal-client");
  assert.equal(typeof esm.create, "function");
  assert.equal(viaName.VERSION, pkg.version);
  const resolved = execFileSync(process.execPath, ["--input-type=module", "-e", "import { VERSION } from 'cartseal-client'; console.log(VERSION)"], { cwd: app, encoding: "utf8" });
  assert.equal(resolved.trim(), pkg.version);
});
