// cartseal-client.js: the cart of a cartseal shop, for every tab of a browser.
//
// Copy this file as it is (no build step, no dependencies) and load it before
// the script that uses it; it defines the global `CartsealClient` (or
// `module.exports` where there is a `module`).
//
// Why it exists. A cart write starts from the cart cookie the browser holds
// when the request leaves, and its answer replaces that cookie. Two writes
// sent before either is answered both start from the same cart, and the
// answer that arrives last wins: the other write is lost, though both were
// answered 200. Two open tabs, or two quick clicks, are enough. So this module
//
//   - runs the cart writes of all tabs of this origin one at a time, under the
//     Web Lock "cartseal-cart": each write leaves only after the previous one
//     has been answered, so it carries the cookie that answer set. Where Web
//     Locks are missing, it runs them one at a time within the tab only;
//   - announces each new cart on the BroadcastChannel "cartseal-cart", so that
//     every tab shows it without a reload.
//
// Usage:
//
//   const cart = CartsealClient.create({ api: "" }); // "" is this origin
//   cart.onChange((view) => render(view));           // a newer cart, from any tab
//   await cart.get();                                 // the cart
//   await cart.add(sku, quantity, properties);        // quantity and properties optional
//   await cart.setQuantity(line, quantity);           // 0 removes the line
//   await cart.remove(line);
//   await cart.clear();
//   await cart.products();                            // the catalog
//
// Each cart call resolves to the CartView the server answered, or rejects with
// a `CartsealError` whose `code` is the stable problem code (`cart_too_large`,
// `token_invalid`, ...), or `network`, `timeout` or `unexpected_response`; its
// `problem` holds the problem+json body when there was one. A refused write
// leaves the cart as it was.
//
// What it cannot do: a writer that does not take the lock (an older copy of a
// page, a page of another origin that talks to the same cartseal, or a browser
// without Web Locks in another tab) can still race with these writes.
(function (root, factory) {
  "use strict";
  const exported = factory();
  if (typeof module === "object" && module && module.exports) module.exports = exported;
  else root.CartsealClient = exported;
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  // The name of the lock and of the channel; both are scoped to the origin.
  const NAME = "cartseal-cart";
  const DEFAULT_TIMEOUT_MS = 15000;

  // Without Web Locks, the operations of every client in this tab, one at a time.
  let tabQueue = Promise.resolve();

  class CartsealError extends Error {
    constructor(status, code, message, problem) {
      super(message);
      this.name = "CartsealError";
      this.status = status; // 0 when no answer arrived
      this.code = code;
      this.problem = problem || null;
    }
  }

  function create(options) {
    const opts = options || {};
    const api = String(opts.api || "").replace(/\/+$/, "");
    const timeoutMs = opts.timeoutMs > 0 ? opts.timeoutMs : DEFAULT_TIMEOUT_MS;
    const locks = typeof navigator !== "undefined" && navigator.locks &&
      typeof navigator.locks.request === "function" ? navigator.locks : null;
    const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(NAME) : null;
    const listeners = new Set();
    // When and at which revision the newest cart this client has seen was
    // answered, so that a late announcement never replaces a newer cart.
    let newest = null;

    // Runs `task` alone among the cart operations of the origin: a write
    // exclusively, a read beside other reads but never during a write.
    function serialized(mode, task) {
      if (locks) return locks.request(NAME, { mode }, task);
      const run = tabQueue.then(() => task());
      tabQueue = run.catch(() => undefined);
      return run;
    }

    // A write: under the exclusive lock, then announced to this tab's
    // listeners and to the other tabs before the next write may leave.
    function write(method, path, body) {
      return serialized("exclusive", async () => {
        const view = await cartRequest(method, path, body);
        const at = now();
        offer(view, at);
        if (channel) channel.postMessage({ api, at, view });
        return view;
      });
    }

    function get() {
      return serialized("shared", async () => {
        const view = await cartRequest("GET", "/cart");
        offer(view, now());
        return view;
      });
    }

    // Tells the listeners about `view` if it is newer than the newest seen.
    function offer(view, at) {
      const revision = Number(view.revision) || 0;
      if (newest && (at < newest.at || (at === newest.at && revision < newest.revision))) return;
      newest = { at, revision };
      for (const listener of Array.from(listeners)) {
        try {
          listener(view);
        } catch (err) {
          setTimeout(() => { throw err; }); // reported, but it does not fail the write
        }
      }
    }

    function onMessage(event) {
      const msg = event.data;
      if (msg && msg.api === api && Number.isFinite(msg.at) && isCartView(msg.view)) {
        offer(msg.view, msg.at);
      }
    }

    // A page restored from the back-forward cache missed the announcements
    // made meanwhile: read the cart again.
    function onPageShow(event) {
      if (event.persisted && listeners.size > 0) get().catch(() => undefined);
    }

    if (channel) channel.addEventListener("message", onMessage);
    if (typeof window !== "undefined") window.addEventListener("pageshow", onPageShow);

    async function cartRequest(method, path, body) {
      const view = await request(method, path, body);
      if (!isCartView(view)) {
        throw new CartsealError(200, "unexpected_response", "The cart service did not answer with a cart.");
      }
      return view;
    }

    // One request with the cookie; a problem+json answer becomes a CartsealError.
    async function request(method, path, body) {
      const abort = typeof AbortController === "function" ? new AbortController() : null;
      const timer = abort ? setTimeout(() => abort.abort(), timeoutMs) : null;
      const init = {
        method,
        credentials: "include",
        cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
      };
      if (abort) init.signal = abort.signal;
      if (body !== undefined) init.body = JSON.stringify(body);
      try {
        let res;
        try {
          res = await fetch(api + path, init);
        } catch (_) {
          throw noAnswer(abort);
        }
        let data = null;
        if ((res.headers.get("Content-Type") || "").includes("json")) {
          try {
            data = await res.json();
          } catch (_) {
            if (abort && abort.signal.aborted) throw noAnswer(abort);
          }
        }
        if (!res.ok) throw problemError(res.status, data);
        return data;
      } finally {
        if (timer !== null) clearTimeout(timer);
      }
    }

    function noAnswer(abort) {
      return abort && abort.signal.aborted
        ? new CartsealError(0, "timeout", "The cart service did not answer in " + timeoutMs + " ms.")
        : new CartsealError(0, "network", "Could not reach the cart service.");
    }

    const line = (key) => "/cart/items/" + encodeURIComponent(key);

    return {
      get,
      add(sku, quantity, properties) {
        const body = { sku };
        if (quantity !== undefined) body.quantity = quantity;
        if (properties !== undefined) body.properties = properties;
        return write("POST", "/cart/items", body);
      },
      setQuantity: (key, quantity) => write("PATCH", line(key), { quantity }),
      remove: (key) => write("DELETE", line(key)),
      clear: () => write("DELETE", "/cart"),
      async products() {
        const list = await request("GET", "/products");
        if (!Array.isArray(list)) {
          throw new CartsealError(200, "unexpected_response", "The cart service did not answer with a catalog.");
        }
        return list;
      },
      // Calls `listener(view)` with every newer cart: this client's writes and
      // reads, and other tabs' writes. Returns a function that stops it.
      onChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      // Stops listening to other tabs.
      close() {
        listeners.clear();
        if (channel) channel.close();
        if (typeof window !== "undefined") window.removeEventListener("pageshow", onPageShow);
      },
    };
  }

  function problemError(status, body) {
    const code = body && typeof body.code === "string" ? body.code : "http_" + status;
    const text = body && typeof body.detail === "string" && body.detail
      ? body.detail
      : body && typeof body.title === "string" && body.title
        ? body.title
        : "The cart service answered HTTP " + status + ".";
    return new CartsealError(status, code, text, body);
  }

  function isCartView(v) {
    return Boolean(v) && typeof v === "object" && Array.isArray(v.items);
  }

  // A high-resolution wall-clock time: comparable across the tabs of a browser.
  function now() {
    if (typeof performance !== "undefined" && performance.timeOrigin) {
      return performance.timeOrigin + performance.now();
    }
    return Date.now();
  }

  return { create, CartsealError };
});
