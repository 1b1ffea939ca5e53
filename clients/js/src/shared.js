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

