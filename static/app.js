// cartseal demo shop.
//
// The cart lives in a sealed HttpOnly cookie that this script never sees: every
// request goes out with `credentials: "include"` and the browser attaches the
// cookie. Everything the page shows comes from the CartView the server returns.
// Every cart call goes through cartseal-client.js (loaded before this script),
// which runs the writes of all open tabs one at a time, so none is lost, and
// tells every tab about the new cart, so each shows it without a reload.
//
// Messages come from the client module's table by error code
// (`cart.messageFor`), which a shop can override entry by entry.
//
// The API base defaults to this page's origin (relative URLs). `?api=http://host:port`
// points the page at a cartseal on another origin, but only at one that the
// serving cartseal lists in `demo.api_origins` (it puts that list in the
// `cartseal-api-origins` meta tag, and its Content-Security-Policy allows
// nothing else). That cartseal must in turn list this page's origin in its
// `cors.allowed_origins`.
(function () {
  "use strict";

  const API = apiBase(new URLSearchParams(window.location.search).get("api"));

  const el = {
    products: byId("products"),
    catalogNote: byId("catalog-note"),
    addSkuForm: byId("add-sku-form"),
    skuInput: byId("sku-input"),
    skuQty: byId("sku-qty"),
    lines: byId("cart-lines"),
    empty: byId("cart-empty"),
    itemCount: byId("item-count"),
    itemCountLabel: byId("item-count-label"),
    pill: byId("cart-pill-count"),
    subtotal: byId("subtotal"),
    error: byId("error"),
    clear: byId("clear-cart"),
    gauge: byId("token-gauge"),
    gaugeFill: byId("gauge-fill"),
    gaugeText: byId("gauge-text"),
    meta: byId("cart-meta"),
  };

  const EMPTY_VIEW = {
    items: [], item_count: 0, subtotal: null, currency: null, revision: null,
    expires_at: null, token_length: null, token_budget: null,
  };

  let lastView = null; // the newest CartView the server accepted, from any tab
  let problem = null; // { code, message } of the last failed request, or null
  let pending = 0;
  let renders = 0;

  // ---- API -----------------------------------------------------------------

  const cart = CartsealClient.create({ api: API });

  // A newer cart, from this tab's calls or another tab's writes. While this
  // tab's own writes are under way, the last of them renders it.
  cart.onChange((view) => {
    lastView = view;
    if (pending === 0) renderCart();
  });

  function apiBase(raw) {
    if (!raw) return "";
    const meta = document.querySelector('meta[name="cartseal-api-origins"]');
    const allowed = ((meta && meta.content) || "").split(" ").filter(Boolean);
    try {
      const url = new URL(raw);
      if (!allowed.includes(url.origin)) return "";
      return url.origin + url.pathname.replace(/\/+$/, "");
    } catch (_) {
      return "";
    }
  }

  // Runs one write (the client sends it after every earlier write of every
  // tab has been answered), then renders either the new CartView or, on an
  // error, the last good one with the message.
  function write(send) {
    pending += 1;
    setBusy();
    return send().then(
      () => {
        problem = null;
      },
      (err) => {
        problem = errorOf(err);
      },
    ).finally(() => {
      pending -= 1;
      setBusy();
      renderCart();
    });
  }

  function errorOf(err) {
    if (err instanceof CartsealClient.CartsealError) return { code: err.code, message: cart.messageFor(err) };
    return { code: "client_error", message: "Something went wrong in the page: " + err };
  }

  const addItem = (sku, quantity) => write(() => cart.add(sku, quantity));
  const setQuantity = (line, quantity) => write(() => cart.setQuantity(line, quantity));
  const removeLine = (line) => write(() => cart.remove(line));
  const clearCart = () => write(() => cart.clear());

  // ---- rendering -----------------------------------------------------------

  function renderProducts(products) {
    el.products.replaceChildren();
    if (products.length === 0) {
      el.catalogNote.textContent = "This shop has no catalog.";
      el.addSkuForm.hidden = false;
      return;
    }
    el.catalogNote.textContent = products.length + (products.length === 1 ? " product" : " products");
    el.addSkuForm.hidden = true;
    const frag = document.createDocumentFragment();
    for (const p of products) frag.appendChild(productCard(p));
    el.products.appendChild(frag);
  }

  function productCard(p) {
    const card = h("article", { class: "product", "data-sku": p.sku });
    const thumb = h("div", { class: "thumb", "aria-hidden": "true" }, initials(p.title || p.sku));
    thumb.style.setProperty("--hue", String(hue(p.sku)));
    const body = h("div", { class: "product-body" },
      h("h3", { class: "product-title" }, p.title || p.sku),
      h("p", { class: "product-sku" }, p.sku),
    );
    const incart = h("span", { class: "in-cart", "data-in-cart": p.sku });
    const foot = h("div", { class: "product-foot" },
      h("span", { class: "price" }, money(p.unit_price, p.currency)),
      h("button", { type: "button", class: "btn btn-primary btn-sm", "data-add": p.sku,
        "aria-label": "Add " + (p.title || p.sku) + " to cart" }, "Add"),
    );
    card.append(thumb, body, incart, foot);
    return card;
  }

  function renderCart() {
    const view = lastView || EMPTY_VIEW;
    const items = view.items || [];

    el.lines.replaceChildren(...items.map((item) => lineRow(item, view.currency)));
    el.empty.hidden = items.length > 0;

    const count = Number.isFinite(view.item_count)
      ? view.item_count
      : items.reduce((n, i) => n + (i.quantity || 0), 0);
    el.itemCount.textContent = String(count);
    el.itemCountLabel.textContent = count === 1 ? "item" : "items";
    el.pill.textContent = String(count);

    el.subtotal.textContent = money(view.subtotal, view.currency);
    el.subtotal.dataset.minor = view.subtotal == null ? "" : String(view.subtotal);

    el.clear.disabled = items.length === 0;

    renderGauge(view.token_length, view.token_budget);
    renderMeta(view);
    renderInCart(items);

    el.error.textContent = problem ? problem.message : "";
    el.error.dataset.code = problem ? problem.code : "";

    renders += 1;
    document.body.dataset.renders = String(renders);
  }

  function lineRow(item, currency) {
    const cur = currency || null;
    const li = h("li", { class: "line", "data-line": item.line, "data-sku": item.sku });
    const thumb = h("div", { class: "thumb thumb-sm", "aria-hidden": "true" }, initials(item.title || item.sku));
    thumb.style.setProperty("--hue", String(hue(item.sku)));

    const info = h("div", { class: "line-info" },
      h("div", { class: "line-title" }, item.title || item.sku),
      h("div", { class: "line-sub muted" },
        item.sku + (item.unit_price == null ? "" : " · " + money(item.unit_price, cur)),
      ),
    );
    const props = propertiesText(item.properties);
    if (props) info.appendChild(h("div", { class: "line-props muted" }, props));

    const qty = h("input", {
      type: "number", class: "qty", min: "0", max: "999", step: "1", inputmode: "numeric",
      value: String(item.quantity), "data-qty": "", "aria-label": "Quantity of " + (item.title || item.sku),
    });
    qty.addEventListener("change", () => {
      const n = Number(qty.value);
      if (qty.value.trim() === "" || !Number.isInteger(n) || n < 0) {
        qty.value = String(item.quantity);
        return;
      }
      if (n !== item.quantity) setQuantity(item.line, n);
    });

    const remove = h("button", { type: "button", class: "btn-icon", "data-remove": "",
      "aria-label": "Remove " + (item.title || item.sku) }, "×");
    remove.addEventListener("click", () => removeLine(item.line));

    const price = h("div", { class: "line-price" }, money(item.line_price, cur));
    li.append(thumb, info, h("div", { class: "line-controls" }, qty, price), remove);
    return li;
  }

  function renderGauge(length, budget) {
    const hasLen = Number.isFinite(length);
    const hasBudget = Number.isFinite(budget) && budget > 0;
    el.gauge.dataset.length = hasLen ? String(length) : "";
    el.gauge.dataset.budget = hasBudget ? String(budget) : "";
    el.gaugeText.textContent =
      "token size: " + (hasLen ? length : "–") + " / " + (hasBudget ? budget : "–") + " bytes" +
      (hasLen ? "" : " (no token yet)");
    const ratio = hasLen && hasBudget ? Math.min(1, length / budget) : 0;
    el.gaugeFill.style.width = (ratio * 100).toFixed(1) + "%";
    el.gauge.classList.toggle("warn", ratio >= 0.75 && ratio < 0.9);
    el.gauge.classList.toggle("full", ratio >= 0.9);
  }

  function renderMeta(view) {
    const parts = [];
    if (view.revision != null) parts.push("revision " + view.revision);
    const exp = toDate(view.expires_at);
    if (exp) {
      parts.push("kept until " + exp.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" }));
    }
    el.meta.textContent = parts.join(" · ");
  }

  function renderInCart(items) {
    const bySku = new Map();
    for (const i of items) bySku.set(i.sku, (bySku.get(i.sku) || 0) + i.quantity);
    for (const badge of el.products.querySelectorAll("[data-in-cart]")) {
      const n = bySku.get(badge.dataset.inCart) || 0;
      badge.textContent = n ? n + " in cart" : "";
    }
  }

  function setBusy() {
    document.body.classList.toggle("busy", pending > 0);
    document.body.setAttribute("aria-busy", pending > 0 ? "true" : "false");
  }

  // ---- helpers -------------------------------------------------------------

  function byId(id) {
    return document.getElementById(id);
  }

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c); // strings become text nodes, never HTML
    return node;
  }

  const formatters = new Map();
  function money(minor, currency) {
    if (minor == null || !Number.isFinite(Number(minor))) return "—";
    if (!currency) return String(minor);
    let f = formatters.get(currency);
    if (f === undefined) {
      try {
        f = new Intl.NumberFormat(undefined, { style: "currency", currency });
      } catch (_) {
        f = null;
      }
      formatters.set(currency, f);
    }
    if (!f) return (Number(minor) / 100).toFixed(2) + " " + currency;
    const digits = f.resolvedOptions().maximumFractionDigits;
    return f.format(Number(minor) / Math.pow(10, digits));
  }

  function toDate(v) {
    if (v == null || v === "") return null;
    const d = typeof v === "number" ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function propertiesText(props) {
    if (!props || typeof props !== "object") return "";
    return Object.entries(props).map(([k, v]) => k + ": " + v).join(", ");
  }

  function initials(text) {
    const words = String(text).split(/[\s,-]+/).filter(Boolean);
    return ((words[0] || "?")[0] + ((words[1] || "")[0] || "")).toUpperCase();
  }

  function hue(s) {
    let x = 0;
    for (const ch of String(s)) x = (x * 31 + ch.charCodeAt(0)) >>> 0;
    return x % 360;
  }

  // ---- events and start-up -------------------------------------------------

  el.products.addEventListener("click", (ev) => {
    const btn = ev.target.closest("[data-add]");
    if (btn) addItem(btn.dataset.add, 1);
  });

  el.addSkuForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const sku = el.skuInput.value.trim();
    const qty = Math.max(1, Math.trunc(Number(el.skuQty.value) || 1));
    if (sku) addItem(sku, qty);
  });

  el.clear.addEventListener("click", () => clearCart());

  async function start() {
    const [products, current] = await Promise.allSettled([cart.products(), cart.get()]);

    if (products.status === "fulfilled") {
      renderProducts(products.value);
    } else {
      el.catalogNote.textContent = "The catalog could not be loaded: " + errorOf(products.reason).message;
    }

    // The cart itself arrived through onChange, unless another tab's newer
    // cart came first.
    if (current.status === "rejected") problem = errorOf(current.reason);
    renderCart();
    document.body.dataset.ready = "1";
  }

  start();
})();
