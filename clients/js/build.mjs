// Builds the npm package of the client module from its one source, src/
// (in the order of PARTS), into
//   dist/cartseal-client.js    a classic script (global CartsealClient) that
//                              is also CommonJS: the sources joined
//   dist/cartseal-client.cjs   the same bytes, for require()
//   dist/cartseal-client.mjs   an ES module of the same factory
// cartseal itself serves the same joined sources at
// /static/cartseal-client.js, embedded at compile time
// (src/http/routes/demo.rs). dist/ is build output, not committed:
// `node build.mjs` writes it (`npm pack` and `npm test` run it first).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
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
    [join(DIST, "cartseal-client.js")]: source,
    [join(DIST, "cartseal-client.cjs")]: source,
    [join(DIST, "cartseal-client.mjs")]: esm,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(DIST, { recursive: true });
  for (const [path, text] of Object.entries(build())) writeFileSync(path, text);
}
