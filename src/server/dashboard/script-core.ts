/**
 * The dashboard's shared part: state, helpers, the API (token in a header, never a URL), the
 * signed-in role, confirmation, routing and the live change stream. Plain browser JavaScript
 * inside the one closure script.ts assembles (no template literals: these are template strings).
 */
export const CORE_JS = String.raw`
  var TOKEN_KEY = "oscd.token";
  var state = { hosts: [], counts: null, releases: [], rollouts: [], jobs: [], channels: [], audit: [], route: "", stream: null, me: null };
  function $(id) { return document.getElementById(id); }
  function token() { return localStorage.getItem(TOKEN_KEY) || ""; }
  /** What this token's role may do: actions it may not take are not shown (the API refuses them anyway). */
  function may(what) { return !!(state.me && state.me.can && state.me.can[what]); }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (attrs[k] == null) return;
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else if (k === "onclick") e.addEventListener("click", attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function badge(s) { return el("span", { class: "badge s-" + String(s).replace(/[^a-z-]/g, ""), text: s }); }
  function secs(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? " " + (s % 60) + "s" : "");
    if (s < 86400) return Math.floor(s / 3600) + "h" + (Math.floor(s / 60) % 60 ? " " + (Math.floor(s / 60) % 60) + "m" : "");
    return Math.floor(s / 86400) + "d";
  }
  function ago(ms) {
    if (ms == null) return "never";
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s < 86400) return Math.floor(s / 3600) + "h ago";
    return Math.floor(s / 86400) + "d ago";
  }
  function clock(ms) { return ms == null ? "–" : new Date(ms).toLocaleTimeString(); }
  function api(method, path, body) {
    var headers = { authorization: "Bearer " + token(), "x-oscd-client": "dashboard" };
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) }).then(function (r) {
      if (r.status === 401) { signOut("the token was refused"); throw new Error("unauthorized"); }
      return r.json().then(function (b) { if (!r.ok) throw new Error((b && b.error && b.error.message) || ("status " + r.status)); return b; });
    });
  }
  var VIEWS = ["login", "fleet", "host", "releases", "audit"];
  function show(id) {
    VIEWS.forEach(function (s) { $(s).hidden = s !== id; });
    $("nav-fleet").className = id === "fleet" || id === "host" ? "active" : "";
    $("nav-releases").className = id === "releases" ? "active" : "";
    $("nav-audit").className = id === "audit" ? "active" : "";
  }
  function signOut(why) {
    localStorage.removeItem(TOKEN_KEY);
    state.me = null;
    document.body.removeAttribute("data-role");
    $("me").textContent = "";
    if (state.stream) { state.stream.abort(); state.stream = null; }
    $("login-error").textContent = why || "";
    show("login");
  }
  function flash(text) {
    var f = $("flash");
    f.textContent = text;
    f.hidden = !text;
  }

  /**
   * Asks before an action that is hard to take back (resume after a halt, abort, release to
   * every host): resolves true only when the confirming button was pressed.
   */
  function ask(message, confirmText) {
    var d = $("confirm");
    $("confirm-text").textContent = message;
    $("confirm-yes").textContent = confirmText;
    return new Promise(function (resolve) {
      function done(v) {
        $("confirm-yes").removeEventListener("click", yes);
        $("confirm-no").removeEventListener("click", no);
        d.removeEventListener("cancel", no);
        if (d.open) d.close();
        resolve(v);
      }
      function yes(e) { e.preventDefault(); done(true); }
      function no(e) { e.preventDefault(); done(false); }
      $("confirm-yes").addEventListener("click", yes);
      $("confirm-no").addEventListener("click", no);
      d.addEventListener("cancel", no);
      d.showModal();
    });
  }

  var pending = null;
  /** The Releases view shows the newest rollouts (one more is asked for, to know there are older ones); oscd rollout list shows more. */
  var ROLLOUTS_SHOWN = 10;
  function whoami() {
    if (state.me) return Promise.resolve(state.me);
    return api("GET", "/api/v1/whoami").then(function (me) {
      if (me.role === "host") { signOut("a host token cannot sign in: use a viewer, operator or admin token"); throw new Error("host token"); }
      state.me = me;
      document.body.setAttribute("data-role", me.role);
      $("me").textContent = me.role + (me.label ? " · " + me.label : "");
      return me;
    });
  }
  function refresh() {
    var r = location.hash.replace(/^#\/?/, "") || "fleet";
    state.route = r;
    if (!token()) return show("login");
    return whoami().then(function () { return route(r); }, function () {});
  }
  function route(r) {
    if (r.indexOf("host/") === 0) {
      var name = decodeURIComponent(r.slice(5));
      return api("GET", "/api/v1/hosts/" + encodeURIComponent(name)).then(function (d) { renderHost(name, d); show("host"); }, function () {});
    }
    if (r === "releases") {
      return Promise.all([api("GET", "/api/v1/releases"), api("GET", "/api/v1/rollouts?limit=" + (ROLLOUTS_SHOWN + 1)), api("GET", "/api/v1/jobs"), api("GET", "/api/v1/channels")]).then(function (a) {
        state.releases = a[0].releases; state.rollouts = a[1].rollouts; state.jobs = a[2].jobs; state.channels = a[3].channels; renderReleases(); show("releases");
      }, function () {});
    }
    if (r === "audit") {
      return api("GET", "/api/v1/audit?limit=200").then(function (d) { state.audit = d.entries; renderAudit(); show("audit"); }, function () {});
    }
    return api("GET", "/api/v1/hosts").then(function (d) { state.hosts = d.hosts; state.counts = d.counts; renderFleet(); show("fleet"); }, function () {});
  }
  /**
   * One refresh at a time, and the next waits as long as the last took: while a 10,000-host
   * rollout runs, changes arrive many times a second, and a slow answer must not pile up more.
   */
  var inflight = false, again = false;
  function soon() {
    if (inflight) { again = true; return; }
    if (pending) return;
    pending = setTimeout(function () {
      pending = null; inflight = true;
      var t0 = Date.now();
      var done = function () {
        inflight = false;
        if (again) { again = false; pending = setTimeout(function () { pending = null; soon(); }, Math.max(0, Date.now() - t0 - 150)); }
      };
      Promise.resolve(refresh()).then(done, done);
    }, 150);
  }

  function connect() {
    if (state.stream || !token()) return;
    var ctl = new AbortController();
    state.stream = ctl;
    fetch("/api/v1/events", { headers: { authorization: "Bearer " + token() }, signal: ctl.signal }).then(function (res) {
      if (!res.ok || !res.body) throw new Error("events " + res.status);
      $("live").className = "live on"; $("live").textContent = "live";
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = "";
      function pump() {
        return reader.read().then(function (x) {
          if (x.done) throw new Error("closed");
          buf += dec.decode(x.value, { stream: true });
          var parts = buf.split("\n\n"); buf = parts.pop();
          if (parts.some(function (p) { return p.indexOf("event: change") >= 0; })) soon();
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      $("live").className = "live off"; $("live").textContent = "offline";
      if (state.stream === ctl) { state.stream = null; setTimeout(connect, 2000); }
    });
  }

  /** Times that move by themselves (ages, bake countdowns) are redrawn every second, without asking the server. */
  function tick() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-until]"), function (e) {
      var left = (Number(e.getAttribute("data-until")) - Date.now()) / 1000;
      e.textContent = left > 0 ? e.getAttribute("data-label") + " " + secs(left) : e.getAttribute("data-done");
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-since]"), function (e) {
      e.textContent = e.getAttribute("data-label") + " " + ago(Number(e.getAttribute("data-since")));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", function (e) {
      e.preventDefault();
      localStorage.setItem(TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      $("login-error").textContent = "";
      connect(); refresh();
    });
    ["filter-tag", "filter-status", "filter-text"].forEach(function (id) { $(id).addEventListener("input", renderFleet); });
    setupStartForm();
    window.addEventListener("hashchange", refresh);
    connect(); refresh();
    setInterval(tick, 1000);
    setInterval(function () { if (!$("fleet").hidden) renderFleet(); }, 10000);
  });
`;
