// Types of the cartseal client module (dist/cartseal-client.{mjs,cjs,js}).
// README.md of the repository, "Cross-origin SPAs", documents each of them.

/** One line of the cart, as the server renders it. */
export interface CartItem {
  line: string;
  sku: string;
  quantity: number;
  properties: Record<string, string>;
  title: string | null;
  unit_price: number | null;
  line_price: number | null;
  available: boolean | null;
}

/** The cart as every cart endpoint answers it. */
export interface CartView {
  items: CartItem[];
  item_count: number;
  subtotal: number | null;
  currency: string | null;
  /** Raised by every write; a read that re-seals keeps it. */
  revision: number;
  expires_at: string | null;
  /** Length of the credential the client holds; null before the first. */
  token_length: number | null;
  token_budget: number | null;
}

export interface Product {
  sku: string;
  title?: string;
  unit_price?: number;
  currency?: string;
  [key: string]: unknown;
}

/** Server codes (src/http/error.rs), the client's own, and `http_<status>`. */
export type ErrorCode =
  | "token_invalid" | "token_expired" | "credentials_ambiguous" | "payload_invalid"
  | "csrf_rejected" | "line_not_found" | "not_found" | "method_not_allowed"
  | "request_timeout" | "unsupported_media_type" | "payload_too_large" | "cart_too_large"
  | "cart_invalid" | "sku_unknown" | "header_too_large" | "store_unavailable"
  | "network" | "timeout" | "cors_refused" | "cookie_blocked" | "unexpected_response"
  | `http_${number}`
  | (string & {});

export declare class CartsealError extends Error {
  constructor(status: number, code: string, message: string, problem?: object | null);
  readonly name: "CartsealError";
  /** The HTTP status; 0 when no answer arrived or could be read. */
  readonly status: number;
  readonly code: ErrorCode;
  /** The problem+json body, when there was one. */
  readonly problem: Record<string, unknown> | null;
  /** The server's own words, for logs; not for shoppers. */
  readonly detail: string | null;
}

export type Messages = Partial<Record<ErrorCode | "default", string>>;

export interface Options {
  /** The API's base URL; "" (the default) is this page's origin. */
  api?: string;
  /** Every call settles within this many ms of being made, waiting for the lock included. Default 15000. */
  timeoutMs?: number;
  /** "cookie" (default): the HttpOnly cookie. "bearer": a token kept in memory and sessionStorage. */
  transport?: "cookie" | "bearer";
  /** Overrides of MESSAGES, by code. */
  messages?: Messages;
  /** For tests and other runtimes: */
  fetch?: typeof fetch;
  locks?: { request(name: string, options: { mode: "shared" | "exclusive"; signal?: AbortSignal }, task: () => Promise<unknown>): Promise<unknown> } | null;
  BroadcastChannel?: { new (name: string): BroadcastChannel } | null;
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
  now?: () => number;
}

export type Operation = "get" | "add" | "setQuantity" | "remove" | "clear" | "merge";

export interface Events {
  change: CartView;
  pending: { op: Operation; pending: number };
  settled: { op: Operation; ok: boolean; error: CartsealError | null; pending: number };
  failed: { op: Operation; error: CartsealError };
}

export interface CartsealClientInstance {
  get(): Promise<CartView>;
  add(sku: string, quantity?: number, properties?: Record<string, string>): Promise<CartView>;
  setQuantity(line: string, quantity: number): Promise<CartView>;
  remove(line: string): Promise<CartView>;
  clear(): Promise<CartView>;
  merge(token: string): Promise<CartView>;
  products(): Promise<Product[]>;
  on<K extends keyof Events>(type: K, listener: (event: Events[K]) => void): () => void;
  onChange(listener: (view: CartView) => void): () => void;
  messageFor(error: { code?: string } | unknown): string;
  readonly pending: number;
  readonly transport: "cookie" | "bearer";
  readonly lockName: string;
  close(): void;
}

export declare function create(options?: Options): CartsealClientInstance;
export declare const MESSAGES: Record<ErrorCode | "default", string>;
export declare function messageFor(error: { code?: string } | unknown, overrides?: Messages): string;
export declare function lockName(api: string): string;
export declare const VERSION: string;

declare const CartsealClient: {
  create: typeof create;
  CartsealError: typeof CartsealError;
  MESSAGES: typeof MESSAGES;
  messageFor: typeof messageFor;
  lockName: typeof lockName;
  VERSION: string;
};
export default CartsealClient;
