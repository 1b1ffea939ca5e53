// A fake cartseal and a fake browser for the client module's tests: the
// cart API (cookie and bearer transports, revisions, 401 on an unreadable
// credential, re-sealing reads), one cookie jar shared by every "tab", Web
// Locks, and BroadcastChannels whose delivery a test can hold back.

export const API = "https://cart.shop.example";

function json(status, body, headers = {}) {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type, ...headers } });
}

function problem(status, code) {
  return json(status, { type: "https://cartseal.dev/problems/" + code, title: code, status, code, detail: "detail of " + code });
}

function abortError() {
  const err = new Error("aborted");
  err.name = "AbortError";
  return err;
}

export class FakeServer {
  constructor() {
    this.sealed = new Map(); // token -> { revision, items }
    this.next = 0;
    this.requests = [];
    // Set by tests:
    this.hang = () => false; // (method, path, n) -> true: never answer
    this.resealReads = false; // every read answers with a new credential
    this.revisionHeader = false; // send Cart-Revision
    this.corsRefused = false; // the browser withholds every CORS answer
    this.down = false; // nothing answers
  }

  seal(cart) {
    const token = "tok-" + ++this.next;
    this.sealed.set(token, { revision: cart.revision, items: cart.items.map((i) => ({ ...i })) });
    return token;
  }

  view(cart, token) {
    return {
      items: cart.items.map((i) => ({ ...i })),
      item_count: cart.items.reduce((n, i) => n + i.quantity, 0),
      subtotal: null,
      currency: null,
      revision: cart.revision,
      expires_at: null,
      token_length: token ? token.length : null,
      token_budget: 3800,
    };
  }

  // What the server holds under `token` (for assertions).
  cartOf(token) {
    return this.sealed.get(token) || null;
  }

  // The server's side of one request; `credential` is the cookie or bearer
  // token the request carried. Returns { response, token } where `token` is
  // a new credential to hand back, or { clear: true } on a 401.
  handle(method, path, body, credential, bearer) {
    if (path === "/products" && method === "GET") return { response: json(200, [{ sku: "A" }]) };
    if (path === "/healthz") return { response: json(200, { status: "ok" }) };
    let cart = { revision: 0, items: [] };
    if (credential) {
      const found = this.sealed.get(credential);
      if (!found) return { response: problem(401, "token_invalid"), clear: true };
      cart = { revision: found.revision, items: found.items.map((i) => ({ ...i })) };
    }
    if (method === "POST" && path === "/cart") {
      const token = this.seal(cart);
      return { response: json(201, { token, cart: this.view(cart, token) }) };
    }
    if (method === "GET" && path === "/cart") {
      if (credential && this.resealReads) {
        const token = this.seal(cart);
        return { response: this.answer(cart, token, bearer), token };
      }
      return { response: this.answer(cart, credential, bearer) };
    }
    const change = this.apply(cart, method, path, body);
    if (change) return { response: change };
    cart.revision += 1;
    const token = this.seal(cart);
    return { response: this.answer(cart, token, bearer), token };
  }

  answer(cart, token, bearer) {
    const headers = {};
    if (bearer && token) headers["Cart-Token"] = token;
    if (this.revisionHeader) headers["Cart-Revision"] = String(cart.revision);
    return json(200, this.view(cart, token), headers);
  }

  // Applies a write to `cart`; returns a problem response when refused.
  apply(cart, method, path, body) {
    const line = path.startsWith("/cart/items/") ? decodeURIComponent(path.slice(12)) : null;
    if (method === "POST" && path === "/cart/items") {
      const found = cart.items.find((i) => i.sku === body.sku);
      if (found) found.quantity += body.quantity || 1;
      else cart.items.push({ line: body.sku, sku: body.sku, quantity: body.quantity || 1, properties: body.properties || {} });
    } else if (method === "POST" && path === "/cart/merge") {
      const other = this.sealed.get(body.token);
      if (!other) return problem(422, "cart_invalid");
      for (const item of other.items) {
        if (!cart.items.some((i) => i.sku === item.sku)) cart.items.push({ ...item });
      }
    } else if (method === "DELETE" && path === "/cart") {
      cart.items = [];
    } else if (line !== null) {
      const index = cart.items.findIndex((i) => i.line === line);
      if (index < 0) return problem(404, "line_not_found");
      if (method === "DELETE" || body.quantity === 0) cart.items.splice(index, 1);
      else cart.items[index].quantity = body.quantity;
    } else {
      return problem(404, "not_found");
    }
    return null;
  }
}

// One browser: a cookie jar for the API, shared by its tabs, and the fetch
// they call. `blockCookies` makes it refuse the API's cookies, as a browser
// refuses a blocked third-party cookie, silently.
export class FakeBrowser {
  constructor(server) {
    this.server = server;
    this.cookie = null;
    this.blockCookies = false;
    this.fetch = this.fetch.bind(this);
  }

  async fetch(url, init = {}) {
    const server = this.server;
    const u = new URL(url);
    const method = init.method || "GET";
    const headers = { ...(init.headers || {}) };
    const entry = { method, path: u.pathname, headers, mode: init.mode || "cors", credentials: init.credentials };
    server.requests.push(entry);
    const signal = init.signal;
    if (signal && signal.aborted) throw abortError();
    if (server.down) throw new TypeError("Failed to fetch");
    if (init.mode === "no-cors") return new Response(null, { status: 200 });
    if (server.corsRefused) throw new TypeError("Failed to fetch");
    await Promise.resolve();
    if (server.hang(method, u.pathname, server.requests.length)) {
      entry.hung = true;
      return new Promise((_, reject) => {
        if (signal) signal.addEventListener("abort", () => reject(abortError()), { once: true });
      });
    }
    const auth = headers.Authorization || null;
    const bearer = auth ? auth.replace(/^Bearer /, "") : null;
    const cookie = init.credentials === "include" ? this.cookie : null;
    entry.credential = bearer || cookie;
    const body = init.body ? JSON.parse(init.body) : undefined;
    const out = server.handle(method, u.pathname, body, bearer || cookie, Boolean(bearer));
    // The routing key (src/http/route.rs): handed to a client with a new
    // credential when it sent none; a bearer client gets the header.
    if (out.token && !headers["Cart-Route"] && (bearer || u.pathname === "/cart" && method === "POST")) {
      server.routes = (server.routes || 0) + 1;
      out.response.headers.set("Cart-Route", "route-" + server.routes);
    }
    if (!bearer && !this.blockCookies) {
      if (out.token) this.cookie = out.token;
      if (out.clear) this.cookie = null;
    }
    return out.response;
  }
}

// Web Locks, for one origin: shared and exclusive modes, granted in order,
// with `signal` giving up a wait. Records every name asked for.
export class FakeLocks {
  constructor() {
    this.queues = new Map();
    this.names = [];
  }

  request(name, options, task) {
    this.names.push(name);
    const q = this.queues.get(name) || { held: [], waiting: [] };
    this.queues.set(name, q);
    return new Promise((resolve, reject) => {
      const waiter = { mode: options.mode || "exclusive", resolve, reject, task };
      const signal = options.signal;
      if (signal) {
        if (signal.aborted) return reject(abortError());
        signal.addEventListener("abort", () => {
          const i = q.waiting.indexOf(waiter);
          if (i >= 0) {
            q.waiting.splice(i, 1);
            reject(abortError());
            this.grant(q);
          }
        }, { once: true });
      }
      q.waiting.push(waiter);
      this.grant(q);
    });
  }

  grant(q) {
    while (q.waiting.length) {
      const next = q.waiting[0];
      const free = q.held.length === 0 ||
        (next.mode === "shared" && q.held.every((h) => h.mode === "shared"));
      if (!free) return;
      q.waiting.shift();
      q.held.push(next);
      Promise.resolve().then(next.task).then(next.resolve, next.reject).finally(() => {
        q.held.splice(q.held.indexOf(next), 1);
        this.grant(q);
      });
    }
  }
}

// BroadcastChannels of one origin. Messages are delivered on a later turn,
// or, with `hold = true`, only when `flush()` is called (in any order).
export function channelHub() {
  const open = new Set();
  const held = [];
  const hub = { hold: false, held, flush, deliveries: 0 };
  function deliver(from, data) {
    for (const ch of open) {
      if (ch !== from && ch.name === from.name) {
        hub.deliveries += 1;
        for (const l of ch.listeners) l({ data: structuredClone(data) });
      }
    }
  }
  function flush(pick = () => true) {
    for (let i = 0; i < held.length;) {
      if (pick(held[i].data)) {
        const [m] = held.splice(i, 1);
        deliver(m.from, m.data);
      } else {
        i += 1;
      }
    }
  }
  hub.Channel = class {
    constructor(name) {
      this.name = name;
      this.listeners = new Set();
      open.add(this);
    }
    postMessage(data) {
      if (hub.hold) held.push({ from: this, data });
      else setImmediate(() => deliver(this, data));
    }
    addEventListener(type, l) {
      if (type === "message") this.listeners.add(l);
    }
    removeEventListener(type, l) {
      this.listeners.delete(l);
    }
    close() {
      open.delete(this);
    }
  };
  return hub;
}

// A storage like sessionStorage.
export class FakeStorage {
  constructor() {
    this.map = new Map();
  }
  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.map.delete(k);
  }
}

// Lets every pending promise callback and immediate run.
export async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i += 1) await new Promise((r) => setImmediate(r));
}
