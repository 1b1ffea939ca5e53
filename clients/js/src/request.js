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

