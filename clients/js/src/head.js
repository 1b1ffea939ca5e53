// cartseal-client.js: the cart of a cartseal shop, for every tab of a browser.
// Joined from clients/js/src, by clients/js/build.mjs for the package and by
// cartseal itself for /static/cartseal-client.js: edit those files.
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
