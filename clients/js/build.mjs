// Builds the client module from its one source, src/ (in the order of
// PARTS), into
//   static/cartseal-client.js  the file cartseal serves (and embeds) at
//                              /static/cartseal-client.js: a classic script
//                              (global CartsealClient) that is also CommonJS
//   dist/cartseal-client.js    the same bytes, for the package
//   dist/cartseal-client.cjs   the same bytes, for require()
//   dist/cartseal-client.mjs   an ES module of the same factory
// `node build.mjs` writes them; `node build.mjs --check` fails when the
// committed ones differ (test/package.test.mjs checks the same).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const SERVED = join(here, "..", "..", "static", "cartseal-client.js");
export const DIST = join(here, "dist");
export const PARTS = ["head.js", "messages.js", "shared.js", "request.js", "client.js", "tail.js"];

/// The files the build writes, by path.
export function build() {
  const source = PARTS.map((part) => readFileSync(join(here, "src", part), "utf8")).join("");
  const begin = source.indexOf("\n", source.indexOf("// @factory-begin")) + 1;
  const end = source.lastIndexOf("\n", source.indexOf("// @factory-end")) + 1;
  if (begin <= 0 || end <= begin) throw new Error("clients/js/src lost its @factory markers");
  const esm =
    "// Generated from clients/js/src by clients/js/build.mjs: edit those files.\n" +
    "const CartsealClient = (function () {\n" +
    '  "use strict";\n' +
    source.slice(begin, end) +
    "})();\n" +
    "export default CartsealClient;\n" +
    "export const { create, CartsealError, MESSAGES, messageFor, lockName, VERSION } = CartsealClient;\n";
  return {
    [SERVED]: source,
    [join(DIST, "cartseal-client.js")]: source,
    [join(DIST, "cartseal-client.cjs")]: source,
    [join(DIST, "cartseal-client.mjs")]: esm,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes("--check");
  mkdirSync(DIST, { recursive: true });
  const stale = [];
  for (const [path, text] of Object.entries(build())) {
    let old = null;
    try {
      old = readFileSync(path, "utf8");
    } catch (_) {
      // not built yet
    }
    if (old === text) continue;
    if (check) stale.push(path);
    else writeFileSync(path, text);
  }
  if (stale.length) {
    console.error("stale build output (" + stale.join(", ") + "): run node clients/js/build.mjs");
    process.exit(1);
  }
}
