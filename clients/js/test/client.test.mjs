// The client module's logic against a fake cartseal (test/fake.mjs): run
// with `node --test clients/js/test/` (scripts/test does).
import { test } from "node:test";
import assert from "node:assert/strict";

import { create, lockName, messageFor, MESSAGES, CartsealError } from "../dist/cartseal-client.mjs";
import { API, FakeBrowser, FakeLocks, FakeServer, FakeStorage, channelHub, settle } from "./fake.mjs";

// One browser's origin: a server, a cookie jar, Web Locks and channels
// shared by the tabs it opens.
function origin(opts = {}) {
  const server = new FakeServer();
  const browser = new FakeBrowser(server);
  const locks = new FakeLocks();
  const hub = channelHub();
  const tabs = [];
  function tab(extra = {}) {
    const shown = [];
    const events = [];
    const client = create({
      api: API,
      fetch: browser.fetch,
      locks: "locks" in extra ? extra.locks : locks,
      BroadcastChannel: hub.Channel,
      storage: new FakeStorage(),
      ...opts,
      ...extra,
    });
    client.onChange((view) => shown.push(view));
    for (const type of ["pending", "settled", "failed"]) client.on(type, (e) => events.push([type, e]));
    const t = { client, shown, events, last: () => shown[shown.length - 1] };
    tabs.push(t);
    return t;
  }
  const close = () => tabs.forEach((t) => t.client.close());
  return { server, browser, locks, hub, tab, close };
}

const skus = (view) => view.items.map((i) => i.sku).sort();

test("tabs order carts by revision, whatever their clocks say", async () => {
  const o = origin();
  // Tab a's clock lags the wall clock by two seconds (a laptop that slept);
  // tab b's runs ahead.
  const a = o.tab({ now: () => 1_000_000 - 2_000 });
  const b = o.tab({ now: () => 1_000_000 + 5_000 });
  const order = ["A1", "B1", "A2", "B2", "A3", "B3"];
  for (const sku of order) {
    const t = sku.startsWith("A") ? a : b;
    const view = await t.client.add(sku);
    assert.equal(t.last(), view, "a tab's own add reaches its onChange (" + sku + ")");
    await settle();
  }
  for (const t of [a, b]) {
    assert.deepEqual(skus(t.last()), [...order].sort(), "every tab shows every add");
    assert.equal(t.last().revision, order.length);
  }
  o.close();
});

test("a late announcement of an older cart does not replace a newer one", async () => {
  const o = origin();
  const a = o.tab();
  const b = o.tab();
  o.hub.hold = true;
  await b.client.add("B1"); // revision 1, announced but held back
  await a.client.add("A1"); // revision 2, on the cookie b's add set
  o.hub.flush((m) => m.view && m.view.revision === 2);
  o.hub.flush(); // b's revision 1 arrives last
  await settle();
  assert.deepEqual(skus(a.last()), ["A1", "B1"]);
  assert.deepEqual(skus(b.last()), ["A1", "B1"], "b shows a's newer cart, and its own older one is not shown again");
  o.close();
});

test("an unreadable cookie gives the empty cart through onChange, not an error", async () => {
  const o = origin();
  const t = o.tab();
  o.browser.cookie = "not-a-token";
  const view = await t.client.get();
  assert.deepEqual(view.items, []);
  assert.equal(t.last(), view, "onChange got the empty cart");
  assert.equal(t.events.filter(([type]) => type === "failed").length, 0, "no failure");
  assert.equal(o.browser.cookie, null, "the server cleared the cookie");

  // A write on an unreadable cookie is sent again, once, on the new cart.
  o.browser.cookie = "expired-token";
  const added = await t.client.add("A");
  assert.deepEqual(skus(added), ["A"]);
  assert.deepEqual(skus(o.server.cartOf(o.browser.cookie)), ["A"], "the browser holds the new cart");
  o.close();
});

test("the lock is named after the API, and a hung API does not hold up another", async () => {
  assert.equal(lockName("https://cart.shop.example/"), "cartseal-cart https://cart.shop.example");
  assert.notEqual(lockName("https://a.example"), lockName("https://b.example"));
  assert.equal(lockName("https://a.example/api/"), "cartseal-cart https://a.example/api");

  const server = new FakeServer();
  const browser = new FakeBrowser(server);
  const locks = new FakeLocks();
  server.hang = (method, path) => method === "POST" && path === "/cart/items";
  const hung = create({ api: "https://hung.example", fetch: browser.fetch, locks, BroadcastChannel: null, timeoutMs: 600_000 });
  const healthy = create({ api: API, fetch: browser.fetch, locks, BroadcastChannel: null, timeoutMs: 600_000 });
  let hungDone = false;
  const first = hung.add("A").finally(() => { hungDone = true; });
  await settle();
  server.hang = () => false;
  const view = await healthy.clear();
  assert.equal(hungDone, false, "the other API's write still hangs");
  assert.deepEqual(view.items, []);
  assert.deepEqual([...new Set(locks.names)].sort(), ["cartseal-cart https://cart.shop.example", "cartseal-cart https://hung.example"]);
  hung.close(); // abandons the hung write
  healthy.close();
  await assert.rejects(first, (e) => e.code === "timeout");
});

test("a hung write holds the other tabs up no longer than timeoutMs", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const o = origin({ timeoutMs: 1000 });
  const a = o.tab();
  const b = o.tab();
  const c = o.tab();
  o.server.hang = (method, path, n) => method === "POST" && n === 1;
  const outcome = (p) => p.then((v) => ({ ok: v }), (e) => ({ code: e.code }));
  const hung = outcome(a.client.add("A"));
  await settle();
  t.mock.timers.tick(100);
  const queued = outcome(b.client.add("B")); // called 100 ms later, waits for the lock
  await settle();
  t.mock.timers.tick(899); // 999 ms after the hung write: everything still waits
  await settle();
  const waiting = await Promise.race([queued.then(() => "settled"), Promise.resolve("waiting")]);
  assert.equal(waiting, "waiting");
  t.mock.timers.tick(1); // the hung write's deadline
  await settle();
  assert.deepEqual(await hung, { code: "timeout" });
  const b1 = await queued; // answered within its own deadline (1100 ms)
  assert.deepEqual(skus(b1.ok), ["B"]);

  // A call that cannot get the lock within its own deadline fails then,
  // with `timeout`, and never runs later.
  o.server.hang = (method) => method === "POST";
  const stuck = outcome(a.client.add("C"));
  await settle();
  const behind = outcome(c.client.add("D"));
  await settle();
  t.mock.timers.tick(1000);
  await settle();
  assert.deepEqual(await stuck, { code: "timeout" });
  assert.deepEqual(await behind, { code: "timeout" });
  const sent = o.server.requests.filter((r) => r.method === "POST").length;
  o.server.hang = () => false;
  await settle();
  assert.equal(o.server.requests.filter((r) => r.method === "POST").length, sent, "a timed-out call is not sent later");
  o.close();
});

test("without Web Locks, a tab's calls queue, and still within timeoutMs", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const o = origin({ timeoutMs: 1000 });
  const a = o.tab({ locks: null });
  o.server.hang = (method, path, n) => n === 1;
  const first = a.client.add("A").catch((e) => e.code);
  const second = a.client.add("B").catch((e) => e.code);
  await settle();
  t.mock.timers.tick(1000);
  await settle();
  assert.equal(await first, "timeout");
  assert.equal(await second, "timeout", "the queued call's deadline ran from its call");
  const third = await a.client.add("C");
  assert.deepEqual(skus(third), ["C"]);
  o.close();
});

test("bearer tokens follow the revision rule: a late re-seal does not undo a write", async () => {
  const o = origin({ transport: "bearer" });
  const a = o.tab();
  const b = o.tab();
  await a.client.add("A1"); // revision 1
  await settle();
  assert.equal(b.last().revision, 1, "b took a's token");
  o.server.resealReads = true;
  o.hub.hold = true;
  await b.client.get(); // a re-seal of revision 1, announced late
  await a.client.add("A2"); // revision 2
  o.hub.flush((m) => m.view && m.view.revision === 2);
  o.hub.flush();
  await settle();
  // a wrote revision 2 and then heard of b's re-seal of revision 1: it
  // keeps its own token, so its next write carries the A2 line.
  const sent = o.server.requests.length;
  const view = await a.client.add("A3");
  assert.deepEqual(skus(view), ["A1", "A2", "A3"], "a wrote on the revision-2 token, not the late re-seal");
  const request = o.server.requests[sent];
  assert.equal(o.server.cartOf(request.credential).revision, 2);
  o.hub.hold = false;
  o.hub.flush();
  await settle();
  const other = await b.client.add("B1");
  assert.deepEqual(skus(other), ["A1", "A2", "A3", "B1"], "b took a's newer token over its own re-seal");
  assert.equal(request.credentials, "omit", "a bearer client sends no cookie");
  o.close();
});

test("a bearer client sends back the routing key it was given, a cookie client sends none", async () => {
  const o = origin({ transport: "bearer" });
  const a = o.tab();
  await a.client.add("A1");
  const first = o.server.requests.filter((r) => r.method !== "GET" || r.path === "/cart");
  assert.equal(first[0].headers["Cart-Route"], undefined, "none before it was issued");
  await a.client.add("A2");
  await a.client.get();
  const later = o.server.requests.slice(-2);
  assert.ok(later.every((r) => /^route-\d+$/.test(r.headers["Cart-Route"] || "")), JSON.stringify(later.map((r) => r.headers)));
  assert.equal(new Set(later.map((r) => r.headers["Cart-Route"])).size, 1, "the same key every time");
  o.close();

  const c = origin();
  const t = c.tab();
  await t.client.add("A1");
  await t.client.add("A2");
  assert.ok(c.server.requests.every((r) => r.headers["Cart-Route"] === undefined), "a browser keeps it as a cookie");
  c.close();
});

test("a bearer tab asks the others for their token before it starts a cart", async () => {
  const o = origin({ transport: "bearer" });
  const a = o.tab();
  await a.client.add("A1");
  const b = o.tab(); // a new tab: its session storage is empty
  const view = await b.client.add("B1");
  assert.deepEqual(skus(view), ["A1", "B1"]);
  o.close();
});

test("a cookie the browser refuses is reported as cookie_blocked, not lost silently", async () => {
  const o = origin();
  const t = o.tab();
  o.browser.blockCookies = true;
  await assert.rejects(t.client.add("A"), (e) => e instanceof CartsealError && e.code === "cookie_blocked");
  assert.deepEqual(t.last().items, [], "the page is shown the cart the browser really has");
  const posts = o.server.requests.filter((r) => r.method === "POST").length;
  await assert.rejects(t.client.add("B"), (e) => e.code === "cookie_blocked");
  assert.equal(o.server.requests.filter((r) => r.method === "POST").length, posts, "no more adds are sent to be lost");
  assert.ok(t.events.some(([type, e]) => type === "failed" && e.error.code === "cookie_blocked"));
  assert.match(t.client.messageFor({ code: "cookie_blocked" }), /cookies/);
  o.close();
});

test("a kept cookie is checked once, by one read after the first write", async () => {
  const o = origin();
  const t = o.tab();
  await t.client.add("A");
  await t.client.add("B");
  await t.client.add("C");
  const reads = o.server.requests.filter((r) => r.method === "GET" && r.path === "/cart");
  assert.equal(reads.length, 1);
  assert.deepEqual(skus(o.server.cartOf(o.browser.cookie)), ["A", "B", "C"]);
  o.close();
});

test("reads send no Content-Type, so a cross-origin read needs no preflight", async () => {
  const o = origin();
  const t = o.tab();
  await t.client.get();
  await t.client.products();
  await t.client.add("A");
  for (const r of o.server.requests) {
    const named = Object.keys(r.headers).map((h) => h.toLowerCase());
    if (r.method === "GET") assert.deepEqual(named, ["accept"], r.path);
    else assert.ok(named.includes("content-type"), r.method + " " + r.path);
  }
  o.close();
});

test("a CORS refusal is told apart from an outage", async () => {
  const o = origin();
  const t = o.tab();
  o.server.corsRefused = true;
  await assert.rejects(t.client.get(), (e) => e.code === "cors_refused" && e.status === 0);
  o.server.corsRefused = false;
  o.server.down = true;
  await assert.rejects(t.client.add("A"), (e) => e.code === "network");
  o.close();
});

test("writes announce themselves pending and settled, and failures", async () => {
  const o = origin();
  const t = o.tab();
  await t.client.add("A");
  await assert.rejects(t.client.setQuantity("nope", 2), (e) => e.code === "line_not_found" && e.status === 404);
  const types = t.events.map(([type, e]) => type + ":" + e.op);
  assert.deepEqual(types, ["pending:add", "settled:add", "pending:setQuantity", "settled:setQuantity", "failed:setQuantity"]);
  const failed = t.events.find(([type]) => type === "failed")[1].error;
  assert.equal(failed.message, MESSAGES.line_not_found, "the shopper's message, not the server's detail");
  assert.equal(failed.detail, "detail of line_not_found");
  o.close();
});

test("merge() merges another cart in", async () => {
  const o = origin();
  const saved = o.server.seal({ revision: 4, items: [{ line: "S", sku: "S", quantity: 1, properties: {} }] });
  const t = o.tab();
  await t.client.add("A");
  const view = await t.client.merge(saved);
  assert.deepEqual(skus(view), ["A", "S"]);
  o.close();
});

test("the message table can be overridden per entry, and has a fallback", () => {
  const o = origin({ messages: { cart_too_large: "Basket full!" } });
  const t = o.tab();
  assert.equal(t.client.messageFor({ code: "cart_too_large" }), "Basket full!");
  assert.equal(t.client.messageFor({ code: "sku_unknown" }), MESSAGES.sku_unknown);
  assert.equal(messageFor({ code: "http_502" }), MESSAGES.default);
  assert.equal(messageFor(new Error("x")), MESSAGES.default);
  o.close();
});

test("the Cart-Revision header is read when the server sends it", async () => {
  const o = origin();
  o.server.revisionHeader = true;
  const t = o.tab();
  const view = await t.client.add("A");
  assert.equal(view.revision, 1);
  o.close();
});
