
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

