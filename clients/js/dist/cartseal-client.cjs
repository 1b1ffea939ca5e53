// cartseal-client.js: the cart of a cartseal shop, for every tab of a browser.
// Built from clients/js/src by clients/js/build.mjs: edit those files.
//
// Load it as a classic script (it defines the global `CartsealClient`, or
// `module.exports` under CommonJS), or install the package clients/js (ES
// module, CommonJS and TypeScript types). cartseal serves this file at
// /static/cartseal-client.js whether its demo page is on or off. README.md,
// "Cross-origin SPAs", lists every option, event and error code.
//
// Why it exists. A cart write starts from the cart cookie the browser holds
// when the request leaves, and its answer replaces that cookie. Two writes
// sent before either is answered both start from the same cart, and the
// answer that arrives last wins: the other write is lost, though both were
// answered 200. So this module
//
//   - runs the cart writes of all tabs of this origin one at a time, under the
//     Web Lock "cartseal-cart <API origin and path>" (one lock per API, so a
//     hung API never holds up another); reads run beside each other, never
//     during a write. Where Web Locks are missing, one tab's calls queue;
//   - bounds every call by `timeoutMs` from the moment it is made, waiting
//     for the lock included: a hung write holds the other tabs up no longer;
//   - announces each new cart on a BroadcastChannel, and shows a cart only if
//     its revision is higher than the one shown (clocks are never compared);
//   - starts an empty cart by itself when the credential cannot be read
//     (401 token_invalid or token_expired): the page gets it through
//     onChange, and a write is sent again once, on the new cart;
//   - checks that the cookie its first write set comes back, and rejects
//     with `cookie_blocked` when the browser refused it (a cross-site API
//     whose cookie is blocked), instead of losing every add silently;
//   - tells a CORS refusal (`cors_refused`) from an unreachable service
//     (`network`) where the browser allows it.
//
// Usage:
//
//   const cart = CartsealClient.create({ api: "" }); // "" is this origin
//   cart.onChange((view) => render(view));           // a newer cart, from any tab
//   cart.on("failed", ({ error }) => show(cart.messageFor(error)));
//   await cart.add(sku, quantity, properties);        // quantity, properties optional
//   await cart.setQuantity(line, quantity);           // 0 removes the line
//   await cart.remove(line);
//   await cart.clear();
//   await cart.merge(otherToken);                     // e.g. at log-in
//   await cart.get();
//   await cart.products();                            // the catalog
//
// What it cannot do: a writer that does not take the lock (an older copy of a
// page, a page of another origin that talks to the same cartseal, or a
// browser without Web Locks in another tab) can still race with these writes.
(function (root, factory) {
  "use strict";
  const exported = factory();
  if (typeof module === "object" && module && module.exports) module.exports = exported;
  else root.CartsealClient = exported;
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";
  // @factory-begin (clients/js/build.mjs makes the ES module of what follows)

  // The release of cartseal this module belongs to (its Cargo.toml version).
  const VERSION = "0.1.0";
  const NAME = "cartseal-cart";
  const DEFAULT_TIMEOUT_MS = 15000;
  // How long a bearer tab without a token asks the other tabs for theirs.
  const PEER_WAIT_MS = 100;

  // What a shopper may read, by stable code: the server's problem codes
  // (src/http/error.rs) and this module's own. A shop overrides any entry
  // with `create({ messages })`, or edits this table before creating clients.
  // `default` covers `http_<status>` and codes this table does not know.
  const MESSAGES = {
    cart_too_large: "Your cart is full. Remove something to add more.",
    cart_invalid: "That change is not allowed.",
    sku_unknown: "That product is no longer available.",
    line_not_found: "That item is no longer in your cart.",
    token_invalid: "Your cart could not be read, so a new one was started.",
    token_expired: "Your cart had expired, so a new one was started.",
    credentials_ambiguous: "Your browser sent two different carts. Clear this site's cookies and reload.",
    csrf_rejected: "The cart refused a request from this page. Open the shop from its own address and try again.",
    payload_invalid: "The shop sent a request the cart did not understand.",
    payload_too_large: "That change is too large.",
    duplicate_key: "The shop sent a request the cart did not understand.",
    unsupported_media_type: "The shop sent a request the cart did not understand.",
    header_too_large: "Your cart cookie is too large to be read. Clear this site's cookies and reload.",
    not_found: "The shop sent a request the cart does not know.",
    method_not_allowed: "The shop sent a request the cart does not know.",
    request_timeout: "The request took too long to send. Please try again.",
    store_unavailable: "The cart is unavailable for a moment. Please try again shortly.",
    write_conflict: "Your cart changed in another window at the same moment. Please try again.",
    network: "Could not reach the cart. Check your connection and try again.",
    timeout: "The cart did not answer in time. Please try again.",
    cors_refused: "This page is not allowed to use the shop's cart. The shop must allow its address (CORS).",
    cookie_blocked: "Your browser did not keep the cart. Allow cookies for this shop and try again.",
    unexpected_response: "The cart sent an unexpected answer.",
    default: "Something went wrong with the cart. Please try again.",
  };

  // Without Web Locks, the calls of every client of one API in this tab,
  // one at a time.
  const queues = new Map();

  class CartsealError extends Error {
    constructor(status, code, message, problem) {
      super(message);
      this.name = "CartsealError";
      this.status = status; // 0 when no answer arrived (or none could be read)
      this.code = code;
      this.problem = problem || null; // the problem+json body, if any
      // The server's own words, for logs; not meant for shoppers.
      this.detail = problem && typeof problem.detail === "string" ? problem.detail : null;
    }
  }

  // The message for `error` (a CartsealError, or anything else), from
  // `overrides` first, then MESSAGES.
  function messageFor(error, overrides) {
    const table = overrides ? Object.assign({}, MESSAGES, overrides) : MESSAGES;
    const code = error && typeof error.code === "string" ? error.code : "";
    return Object.prototype.hasOwnProperty.call(table, code) ? table[code] : table.default;
  }

  // The API's absolute base (origin and path), which names its lock and
  // channel; "" where it cannot be resolved (no page, relative `api`).
  function apiKey(api) {
    const base = typeof location !== "undefined" && location && location.href ? location.href : undefined;
    try {
      const url = new URL(api || "/", base);
      return url.origin + url.pathname.replace(/\/+$/, "");
    } catch (_) {
      return String(api || "");
    }
  }

  // The Web Lock that orders the writes to `api` across the tabs of an origin.
  function lockName(api) {
    return NAME + " " + apiKey(String(api || "").replace(/\/+$/, ""));
  }

  // Runs `task` after every earlier task queued under `name` in this tab;
  // gives up waiting (but never runs it) once `signal` aborts.
  function queued(name, signal, task) {
    const previous = queues.get(name) || Promise.resolve();
    let release;
    const mine = new Promise((resolve) => { release = resolve; });
    queues.set(name, previous.then(() => mine));
    return new Promise((resolve, reject) => {
      let started = false;
      const onAbort = () => {
        if (!started) reject(new DOMExceptionLike("AbortError"));
      };
      if (signal) signal.addEventListener("abort", onAbort, { once: true });
      previous.then(() => {
        if (signal) signal.removeEventListener("abort", onAbort);
        if (signal && signal.aborted) {
          release();
          return;
        }
        started = true;
        Promise.resolve().then(task).then(resolve, reject).finally(release);
      });
    });
  }

  function DOMExceptionLike(name) {
    const err = new Error(name);
    err.name = name;
    return err;
  }

  function browserLocks() {
    return typeof navigator !== "undefined" && navigator && navigator.locks &&
      typeof navigator.locks.request === "function" ? navigator.locks : null;
  }

  function sessionStore() {
    try {
      return typeof sessionStorage !== "undefined" ? sessionStorage : null;
    } catch (_) {
      return null; // storage forbidden by the browser's settings
    }
  }

  function revisionOf(view) {
    return view && Number.isFinite(Number(view.revision)) ? Number(view.revision) : 0;
  }

  function emptyView() {
    return { items: [], item_count: 0, subtotal: null, currency: null, revision: 0,
      expires_at: null, token_length: null, token_budget: null };
  }

  function isCartView(v) {
    return Boolean(v) && typeof v === "object" && Array.isArray(v.items);
  }

  // When an announcement was made: only a tie-breaker between two
  // announcements of one revision.
  function now() {
    if (typeof performance !== "undefined" && performance.timeOrigin) {
      return performance.timeOrigin + performance.now();
    }
    return Date.now();
  }

  // The requests of one client: `request(method, path, body, signal,
  // bearer)` resolves to { status, data, token, revision } or rejects with a
  // CartsealError.
  //
  // A bearer client also keeps the routing key the service hands out
  // (`Cart-Route`) in `route` ({ get, set }) and sends it back, so that a
  // load balancer hashing it keeps this client on one replica (README,
  // "Several replicas"). A browser keeps it as a cookie by itself.
  function requester(fetchFn, api, key, messages, transport, route) {
    const pageOrigin = typeof location !== "undefined" && location ? location.origin : null;
    const crossOrigin = Boolean(key) && (!pageOrigin || (!key.startsWith(pageOrigin + "/") && key !== pageOrigin));

    function timeoutError() {
      return new CartsealError(0, "timeout", messages.timeout);
    }

    // One request. A GET sends no Content-Type, so that a cross-origin read
    // is a simple request, with no preflight. A problem+json answer becomes a
    // CartsealError whose message is the shopper's one (MESSAGES).
    async function request(method, path, body, signal, bearer) {
      if (!fetchFn) throw new CartsealError(0, "network", messages.network);
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (bearer) headers.Authorization = "Bearer " + bearer;
      const routeKey = transport === "bearer" && route ? route.get() : null;
      if (routeKey) headers["Cart-Route"] = routeKey;
      const init = {
        method,
        headers,
        cache: "no-store",
        // A bearer client sends no cookie: a stale one would make the
        // request ambiguous.
        credentials: transport === "cookie" ? "include" : "omit",
      };
      if (signal) init.signal = signal;
      if (body !== undefined) init.body = JSON.stringify(body);
      let res;
      try {
        res = await fetchFn(api + path, init);
      } catch (_) {
        throw await noAnswer(signal);
      }
      const issued = res.headers.get("Cart-Route");
      if (issued && transport === "bearer" && route) route.set(issued);
      let data = null;
      if ((res.headers.get("Content-Type") || "").includes("json")) {
        try {
          data = await res.json();
        } catch (_) {
          if (signal && signal.aborted) throw timeoutError();
        }
      }
      if (!res.ok) throw problemError(res.status, data);
      const header = res.headers.get("Cart-Revision");
      const revision = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
      return { status: res.status, data, token: res.headers.get("Cart-Token"), revision };
    }

    // No answer could be read: the deadline passed, the browser refused the
    // answer (CORS), or nothing answered. A cross-origin API that answers a
    // `no-cors` request is up: the browser withheld the real answer, so the
    // page's origin is not allowed there (or the preflight was refused).
    async function noAnswer(signal) {
      if (signal && signal.aborted) return timeoutError();
      if (crossOrigin && fetchFn) {
        try {
          const probe = { method: "GET", mode: "no-cors", credentials: "omit", cache: "no-store" };
          if (signal) probe.signal = signal;
          await fetchFn(key + "/healthz", probe);
          return new CartsealError(0, "cors_refused", messages.cors_refused);
        } catch (_) {
          if (signal && signal.aborted) return timeoutError();
        }
      }
      return new CartsealError(0, "network", messages.network);
    }

    function problemError(status, body) {
      const code = body && typeof body.code === "string" ? body.code : "http_" + status;
      return new CartsealError(status, code, messageFor({ code }, messages), body);
    }

    return { request, timeoutError };
  }

  // The tab's session storage for one API, never required: a browser that
  // forbids it leaves the state in memory only.
  function sessionSlot(storage, prefix) {
    return {
      read(name) {
        try {
          return storage ? storage.getItem(prefix + " " + name) : null;
        } catch (_) {
          return null;
        }
      },
      write(name, value) {
        try {
          if (!storage) return;
          if (value === null) storage.removeItem(prefix + " " + name);
          else storage.setItem(prefix + " " + name, value);
        } catch (_) {
          // full or forbidden storage: memory still holds it
        }
      },
    };
  }

  // A bearer token kept in the session: { token, revision }, or null.
  function readToken(text) {
    try {
      const t = JSON.parse(text || "null");
      return t && typeof t.token === "string" && Number.isFinite(t.revision) ? t : null;
    } catch (_) {
      return null;
    }
  }

  function create(options) {
    const opts = options || {};
    const api = String(opts.api || "").replace(/\/+$/, "");
    const key = apiKey(api);
    const lock = NAME + " " + key;
    const timeoutMs = opts.timeoutMs > 0 ? Number(opts.timeoutMs) : DEFAULT_TIMEOUT_MS;
    const messages = Object.assign({}, MESSAGES, opts.messages || {});
    // Injectable for tests and non-browser runtimes.
    const fetchFn = opts.fetch || (typeof fetch === "function" ? fetch.bind(globalThis) : null);
    const locks = opts.locks !== undefined ? opts.locks : browserLocks();
    const Channel = opts.BroadcastChannel !== undefined
      ? opts.BroadcastChannel
      : typeof BroadcastChannel === "function" ? BroadcastChannel : null;
    const storage = opts.storage !== undefined ? opts.storage : sessionStore();
    const clock = typeof opts.now === "function" ? opts.now : now;
    const transport = opts.transport === "bearer" ? "bearer" : "cookie";
    const { read, write } = sessionSlot(storage, "cartseal " + key);
    let routeKey = read("route");
    const route = {
      get: () => routeKey,
      set(value) {
        routeKey = value;
        write("route", value);
      },
    };
    const { request, timeoutError } = requester(fetchFn, api, key, messages, transport, route);
    const listeners = { change: new Set(), pending: new Set(), settled: new Set(), failed: new Set() };
    const channel = Channel ? new Channel(lock) : null;

    // The revision of the cart shown, and when it was shown (a tie-breaker
    // between announcements of one revision; clocks are never compared
    // across revisions, since a tab's clock can lag).
    let newest = null;
    let lastView = null;
    let pending = 0;
    // Cookie transport: whether the browser has been seen to send back the
    // cookie a write set, and whether it has been seen to refuse it.
    let cookieKept = read("cookie") === "kept";
    let cookieBlocked = false;
    // Bearer transport: the token held, and the revision of the answer that
    // carried it. The rule: keep the token whose answer has the highest
    // revision; equal revisions are the same cart; a 401 starts over.
    let held = transport === "bearer" ? readToken(read("token")) : null;
    let peers = null; // the wait for another tab's token, once
    const inFlight = new Set(); // the aborts of the calls under way

    function emit(type, value) {
      for (const listener of Array.from(listeners[type])) {
        try {
          listener(value);
        } catch (err) {
          setTimeout(() => { throw err; }); // reported, but it does not fail the call
        }
      }
    }

    // Shows `view` if it is newer than the cart shown: any answer to this
    // client's own calls (they are ordered by the lock, so the last one is the
    // cart the browser holds), another tab's cart of a higher revision, or
    // another tab's fresh start (`reset`).
    function offer(view, how) {
      const revision = revisionOf(view);
      const at = how && Number.isFinite(how.at) ? how.at : clock();
      if (how && how.peer && !how.reset && newest &&
        (revision < newest.revision || (revision === newest.revision && !(at > newest.at)))) {
        return false;
      }
      newest = { revision, at };
      lastView = view;
      emit("change", view);
      return true;
    }

    function announce(view, reset) {
      if (!channel) return;
      const msg = { type: "cart", api: key, at: newest ? newest.at : clock(), view, reset: Boolean(reset) };
      if (transport === "bearer") msg.token = held ? held.token : null;
      try {
        channel.postMessage(msg);
      } catch (_) {
        // a closed channel: this client was closed
      }
    }

    // Keeps `token` if its answer's revision is at least the one held.
    function adopt(token, revision) {
      if (!token) return false;
      if (held && revision < held.revision) return false;
      held = { token, revision };
      write("token", JSON.stringify(held));
      return true;
    }

    function forget() {
      held = null;
      newest = null;
      write("token", null);
    }

    function onMessage(event) {
      const msg = event && event.data;
      if (!msg || msg.api !== key) return;
      if (msg.type === "hello") {
        if (transport === "bearer" && held && channel) {
          channel.postMessage({ type: "cart", api: key, at: newest ? newest.at : clock(),
            view: lastView, token: held.token, revision: held.revision, reset: false });
        }
        return;
      }
      if (msg.type !== "cart") return;
      if (transport === "bearer") {
        if (msg.reset) {
          held = null;
          write("token", null);
        }
        const revision = Number.isFinite(msg.revision) ? msg.revision : revisionOf(msg.view);
        if (adopt(msg.token, revision) && peers) peers.done();
      }
      if (isCartView(msg.view)) offer(msg.view, { peer: true, reset: msg.reset, at: msg.at });
    }

    // A page restored from the back-forward cache missed the announcements
    // made meanwhile: read the cart again.
    function onPageShow(event) {
      if (event.persisted && listeners.change.size > 0) get().catch(() => undefined);
    }

    if (channel) channel.addEventListener("message", onMessage);
    if (typeof window !== "undefined" && window.addEventListener) window.addEventListener("pageshow", onPageShow);

    // ---- one call: a deadline, the lock, events ------------------------------

    // Runs `task(signal)` under the lock (a write exclusively, a read beside
    // other reads), all of it within `timeoutMs` of now.
    function call(kind, op, task) {
      const abort = typeof AbortController === "function" ? new AbortController() : null;
      const signal = abort ? abort.signal : null;
      const timer = abort ? setTimeout(() => abort.abort(), timeoutMs) : null;
      if (abort) inFlight.add(abort);
      const isWrite = kind === "write";
      if (isWrite) {
        pending += 1;
        emit("pending", { op, pending });
      }
      const mode = isWrite ? "exclusive" : "shared";
      const run = () => task(signal);
      const locked = locks
        ? locks.request(lock, signal ? { mode, signal } : { mode }, run)
        : queued(lock, signal, run);
      return Promise.resolve(locked).catch((err) => {
        throw asCartsealError(err, signal);
      }).then(
        (view) => {
          if (isWrite) settle(op, true, null);
          return view;
        },
        (error) => {
          if (isWrite) settle(op, false, error);
          emit("failed", { op, error });
          throw error;
        },
      ).finally(() => {
        if (timer !== null) clearTimeout(timer);
        if (abort) inFlight.delete(abort);
      });
    }

    function settle(op, ok, error) {
      pending -= 1;
      emit("settled", { op, ok, error, pending });
    }

    function asCartsealError(err, signal) {
      if (err instanceof CartsealError) return err;
      if (signal && signal.aborted) return timeoutError();
      return err;
    }

    // ---- the cart calls --------------------------------------------------------

    function get() {
      return call("read", "get", async (signal) => {
        const view = await cartCall("GET", "/cart", undefined, signal);
        own(view);
        return view;
      });
    }

    function change(op, method, path, body) {
      return call("write", op, async (signal) => {
        let view = await cartCall(method, path, body, signal);
        if (transport === "cookie") view = await checkCookie(view, signal);
        own(view);
        return view;
      });
    }

    // Shows and announces the answer to one of this client's own calls.
    function own(view) {
      const reset = Boolean(newest) && revisionOf(view) < newest.revision;
      offer(view, { reset });
      announce(view, reset);
    }

    // A cookie write answered with revision 1 started a new cart. Unless the
    // browser has been seen to send the cookie back, read the cart once: if
    // it comes back older, or without a credential, the browser refused the
    // cookie (a blocked third-party cookie) and every later add would be lost.
    async function checkCookie(view, signal) {
      if (cookieKept) return view;
      if (revisionOf(view) > 1) {
        keepCookie(); // a revision above 1 was made on a cookie the browser sent back
        return view;
      }
      const seen = await cartCall("GET", "/cart", undefined, signal);
      if (seen.token_length == null || revisionOf(seen) < revisionOf(view)) {
        cookieBlocked = true;
        own(seen);
        throw blockedError();
      }
      keepCookie();
      return view;
    }

    function keepCookie() {
      cookieKept = true;
      write("cookie", "kept");
    }

    function blockedError() {
      return new CartsealError(0, "cookie_blocked", messages.cookie_blocked);
    }

    // One cart request in this client's transport. An unreadable credential
    // (401) starts an empty cart: the request is sent once more without it.
    async function cartCall(method, path, body, signal) {
      if (transport === "cookie" && cookieBlocked && method !== "GET") throw blockedError();
      for (let attempt = 0; ; attempt += 1) {
        try {
          if (transport === "bearer") return await bearerCall(method, path, body, signal);
          const answer = await request(method, path, body, signal, null);
          return cartOf(answer);
        } catch (err) {
          const unreadable = err instanceof CartsealError && err.status === 401 &&
            (err.code === "token_invalid" || err.code === "token_expired");
          if (!unreadable || attempt > 0) throw err;
          // The server cleared the cookie (or the token is dead): start over.
          forget();
          cookieKept = false;
          write("cookie", null);
          announce(emptyView(), true);
        }
      }
    }

    async function bearerCall(method, path, body, signal) {
      if (!held) await askPeers(signal);
      if (!held && method !== "GET") {
        const made = await request("POST", "/cart", undefined, signal, null);
        const data = made.data;
        if (!data || typeof data.token !== "string" || !isCartView(data.cart)) {
          throw new CartsealError(made.status, "unexpected_response", messages.unexpected_response);
        }
        adopt(data.token, revisionOf(data.cart));
      }
      const answer = await request(method, path, body, signal, held ? held.token : null);
      const view = cartOf(answer);
      if (answer.token) adopt(answer.token, answer.revision !== null ? answer.revision : revisionOf(view));
      return view;
    }

    // A bearer tab without a token asks the other tabs of the origin for
    // theirs, once, and waits a moment for an answer.
    function askPeers(signal) {
      if (peers || !channel) return peers ? peers.promise : Promise.resolve();
      let done;
      const promise = new Promise((resolve) => {
        done = resolve;
        const timer = setTimeout(resolve, PEER_WAIT_MS);
        if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
      });
      peers = { promise, done };
      channel.postMessage({ type: "hello", api: key });
      return promise;
    }

    function cartOf(answer) {
      if (!isCartView(answer.data)) {
        throw new CartsealError(answer.status, "unexpected_response", messages.unexpected_response);
      }
      if (answer.revision !== null) answer.data.revision = answer.revision;
      return answer.data;
    }

    // `type`: "change" (a newer cart, from any tab), "pending" (a write was
    // called: { op, pending }), "settled" (a write ended: { op, ok, error,
    // pending }), "failed" (a call failed: { op, error }). Returns a function
    // that stops the listener.
    function on(type, listener) {
      if (!listeners[type]) throw new TypeError("cartseal: no event " + JSON.stringify(type));
      listeners[type].add(listener);
      return () => listeners[type].delete(listener);
    }

    const line = (lineKey) => "/cart/items/" + encodeURIComponent(lineKey);

    return {
      get,
      add(sku, quantity, properties) {
        const body = { sku };
        if (quantity !== undefined) body.quantity = quantity;
        if (properties !== undefined) body.properties = properties;
        return change("add", "POST", "/cart/items", body);
      },
      setQuantity: (lineKey, quantity) => change("setQuantity", "PATCH", line(lineKey), { quantity }),
      remove: (lineKey) => change("remove", "DELETE", line(lineKey)),
      clear: () => change("clear", "DELETE", "/cart"),
      // Merges the cart sealed in `token` (e.g. a signed-in shopper's saved
      // cart) into this one.
      merge: (token) => change("merge", "POST", "/cart/merge", { token }),
      async products() {
        const abort = typeof AbortController === "function" ? new AbortController() : null;
        const timer = abort ? setTimeout(() => abort.abort(), timeoutMs) : null;
        try {
          const answer = await request("GET", "/products", undefined, abort ? abort.signal : null, null);
          if (!Array.isArray(answer.data)) {
            throw new CartsealError(answer.status, "unexpected_response", messages.unexpected_response);
          }
          return answer.data;
        } finally {
          if (timer !== null) clearTimeout(timer);
        }
      },
      on,
      onChange: (listener) => on("change", listener),
      messageFor: (error) => messageFor(error, messages),
      get pending() {
        return pending;
      },
      get transport() {
        return transport;
      },
      lockName: lock,
      // Stops listening to other tabs, and abandons the calls under way
      // (they reject with `timeout`).
      close() {
        for (const abort of Array.from(inFlight)) abort.abort();
        for (const set of Object.values(listeners)) set.clear();
        if (channel) {
          channel.removeEventListener("message", onMessage);
          channel.close();
        }
        if (typeof window !== "undefined" && window.removeEventListener) {
          window.removeEventListener("pageshow", onPageShow);
        }
      },
    };
  }

  return { create, CartsealError, MESSAGES, messageFor, lockName, VERSION };
  // @factory-end
});

