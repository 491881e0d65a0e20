/**
 * The dashboard's script, plain browser JavaScript (no build step, nothing fetched from
 * elsewhere). Everything hosts report is untrusted: it is put on the page with textContent,
 * never as HTML. Live updates come from /api/v1/events read with fetch, so the admin token
 * travels in a header (EventSource cannot send one) and never appears in a URL.
 */
export const DASHBOARD_JS = String.raw`"use strict";
(function () {
  var TOKEN_KEY = "oscd.token";
  var state = { hosts: [], releases: [], rollouts: [], jobs: [], route: "", stream: null, me: null };
  /** What this token's role may do: actions it may not take are not shown (the API refuses them anyway). */
  function may(what) { return !!(state.me && state.me.can && state.me.can[what]); }
  function $(id) { return document.getElementById(id); }
  function token() { return localStorage.getItem(TOKEN_KEY) || ""; }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else if (k === "onclick") e.addEventListener("click", attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function badge(s) { return el("span", { class: "badge s-" + String(s).replace(/[^a-z-]/g, ""), text: s }); }
  function ago(ms) {
    if (ms == null) return "never";
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s < 86400) return Math.floor(s / 3600) + "h ago";
    return Math.floor(s / 86400) + "d ago";
  }
  function api(method, path) {
    return fetch(path, { method: method, headers: { authorization: "Bearer " + token() } }).then(function (r) {
      if (r.status === 401) { signOut("the token was refused"); throw new Error("unauthorized"); }
      return r.json().then(function (b) { if (!r.ok) throw new Error((b && b.error && b.error.message) || ("status " + r.status)); return b; });
    });
  }
  function show(id) {
    ["login", "fleet", "host", "releases"].forEach(function (s) { $(s).hidden = s !== id; });
    $("nav-fleet").className = id === "fleet" || id === "host" ? "active" : "";
    $("nav-releases").className = id === "releases" ? "active" : "";
  }
  function signOut(why) {
    localStorage.removeItem(TOKEN_KEY);
    state.me = null;
    if (state.stream) { state.stream.abort(); state.stream = null; }
    $("login-error").textContent = why || "";
    show("login");
  }

  function release(d) { return d ? d.version + " #" + d.sequence : "–"; }
  function renderFleet() {
    var tagSel = $("filter-tag"), statusSel = $("filter-status");
    var tags = {}, statuses = {};
    state.hosts.forEach(function (h) { h.tags.forEach(function (t) { tags[t] = 1; }); statuses[h.status] = 1; });
    [[tagSel, tags], [statusSel, statuses]].forEach(function (p) {
      var keep = p[0].value;
      while (p[0].options.length > 1) p[0].remove(1);
      Object.keys(p[1]).sort().forEach(function (v) { p[0].add(new Option(v, v)); });
      p[0].value = keep;
    });
    var tag = tagSel.value, status = statusSel.value, text = $("filter-text").value.toLowerCase();
    var rows = state.hosts.filter(function (h) {
      return (!tag || h.tags.indexOf(tag) >= 0) && (!status || h.status === status) && (!text || h.host.toLowerCase().indexOf(text) >= 0);
    });
    $("fleet-count").textContent = rows.length + " of " + state.hosts.length;
    var body = $("fleet-table").tBodies[0];
    body.replaceChildren.apply(body, rows.map(function (h) {
      var c = h.current;
      var cells = [
        ["Host", el("a", { href: "#/host/" + encodeURIComponent(h.host), text: h.host })],
        ["Channel", h.channel || "–"],
        ["Desired", release(h.desired) + (h.desired ? " · " + h.desired.commit.slice(0, 8) : "")],
        ["Current", c.version ? c.version + (c.sequence != null ? " #" + c.sequence : "") + (c.commit ? " · " + c.commit.slice(0, 8) : "") : "–"],
        ["Generation", c.generation == null ? "–" : String(c.generation)],
        ["Booted", c.booted ? el("span", { class: "mono", text: c.booted.replace(/^\/nix\/store\/[a-z0-9]{32}-/, "") }) : "–"],
        ["Reboot", c.rebootNeeded == null ? "–" : c.rebootNeeded ? "needed" : "no"],
        ["Last seen", ago(h.lastSeen)],
        ["Status", el("span", null, [badge(h.status), h.reason ? el("div", { class: "reason", text: h.reason }) : null])],
      ];
      return el("tr", { "data-host": h.host }, cells.map(function (p) { return el("td", { "data-label": p[0] }, [p[1]]); }));
    }));
  }

  function renderHost(name, data) {
    $("host-name").textContent = name;
    var h = data.host, c = h.current;
    var facts = [["Status", h.status + (h.reason ? ": " + h.reason : "")], ["Tags", h.tags.join(", ") || "–"], ["Channel", h.channel || "–"], ["Desired", release(h.desired)],
      ["Current", c.version ? c.version + " #" + c.sequence : "–"], ["Toplevel", c.toplevel || "–"], ["Generation", c.generation == null ? "–" : String(c.generation)],
      ["Booted", c.booted || "–"], ["Reboot needed", c.rebootNeeded == null ? "–" : c.rebootNeeded ? "yes" : "no"], ["Last seen", ago(h.lastSeen)]];
    var dl = $("host-facts");
    dl.replaceChildren.apply(dl, facts.reduce(function (a, f) { return a.concat([el("dt", { text: f[0] }), el("dd", { text: f[1] })]); }, []));
    var ol = $("host-history");
    ol.replaceChildren.apply(ol, data.history.map(function (r) {
      var b = r.body || {};
      return el("li", null, [badge(r.status), " ", new Date(r.received_at).toLocaleString(), " · ", (b.version || "") + (b.sequence != null ? " #" + b.sequence : ""),
        b.reason ? el("div", { class: "reason", text: b.reason }) : null, b.log ? el("pre", { text: b.log }) : null]);
    }));
    if (data.history.length === 0) ol.appendChild(el("li", { class: "muted", text: "no deployments reported yet" }));
  }

  function action(id, what) {
    if (what === "abort" && !confirm("Abort this rollout? Hosts it reached keep the release.")) return;
    api("POST", "/api/v1/rollouts/" + encodeURIComponent(id) + "/" + what).then(refresh, function (e) { alert(e.message); });
  }
  function renderReleases() {
    var box = $("rollouts");
    box.replaceChildren.apply(box, state.rollouts.map(function (r) {
      var buttons = [];
      if (may("operate")) {
        if (r.state === "running") buttons.push(el("button", { text: "Pause", "data-action": "pause", onclick: function () { action(r.id, "pause"); } }));
        if (r.state === "paused" || r.state === "halted") buttons.push(el("button", { text: "Resume", "data-action": "resume", onclick: function () { action(r.id, "resume"); } }));
        if (r.state === "running" || r.state === "paused") buttons.push(el("button", { text: "Promote wave", "data-action": "promote", onclick: function () { action(r.id, "promote"); } }));
        if (r.state !== "done" && r.state !== "aborted") buttons.push(el("button", { class: "danger", text: "Abort", "data-action": "abort", onclick: function () { action(r.id, "abort"); } }));
      }
      return el("div", { class: "rollout", "data-rollout": r.id }, [
        el("h3", null, [r.channel + " #" + r.sequence, badge(r.state)]),
        r.reason ? el("div", { class: "reason", text: r.reason }) : null,
        el("div", { class: "waves" }, r.waves.map(function (w) {
          var n = w.hosts.length || 1;
          var bar = el("div", { class: "bar" }, [el("span", { class: "ok" }), el("span", { class: "bad" })]);
          bar.children[0].style.width = (100 * w.healthy.length / n) + "%";
          bar.children[1].style.width = (100 * w.failed.length / n) + "%";
          return el("div", { class: "wave" }, [el("strong", { text: w.name }), " ", badge(w.state), bar,
            el("div", { class: "muted", text: w.healthy.length + " healthy · " + w.failed.length + " failed · " + w.pending.length + " waiting of " + w.hosts.length })]);
        })),
        el("div", { class: "actions" }, buttons),
      ]);
    }));
    if (state.rollouts.length === 0) box.appendChild(el("p", { class: "muted", text: "no rollouts yet" }));
    var body = $("release-table").tBodies[0];
    body.replaceChildren.apply(body, state.releases.map(function (r) {
      return el("tr", null, [["Channel", r.channel], ["Sequence", String(r.sequence)], ["Version", r.version], ["Commit", el("span", { class: "mono", text: r.commit.slice(0, 12) })],
        ["Signed by", r.signer], ["State", badge(r.state)], ["Created", new Date(r.created_at).toLocaleString()]].map(function (p) { return el("td", { "data-label": p[0] }, [p[1]]); }));
    }));
    var jobs = $("job-table").tBodies[0];
    jobs.replaceChildren.apply(jobs, state.jobs.map(function (j) {
      var link = el("a", { href: "#/releases", text: j.id, "data-job": j.id, onclick: function (e) { e.preventDefault(); showLog(j.id); } });
      return el("tr", null, [["Job", link], ["Kind", j.kind], ["State", badge(j.state)], ["Queued", new Date(j.created_at).toLocaleString()],
        ["Finished", j.finished_at ? new Date(j.finished_at).toLocaleString() : "–"]].map(function (p) { return el("td", { "data-label": p[0] }, [p[1]]); }));
    }));
  }
  function showLog(id) {
    api("GET", "/api/v1/jobs/" + encodeURIComponent(id)).then(function (j) {
      var pre = $("job-log");
      pre.textContent = j.kind + " " + j.id + " (" + j.state + ")\n" + (j.log || "(no output yet)");
      pre.hidden = false;
    }, function (e) { alert(e.message); });
  }

  var pending = null;
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
    if (!token()) return show("login");
    return whoami().then(function () { return route(r); }, function () {});
  }
  function route(r) {
    if (r.indexOf("host/") === 0) {
      var name = decodeURIComponent(r.slice(5));
      return api("GET", "/api/v1/hosts/" + encodeURIComponent(name)).then(function (d) { renderHost(name, d); show("host"); }, function () {});
    }
    if (r === "releases") {
      return Promise.all([api("GET", "/api/v1/releases"), api("GET", "/api/v1/rollouts"), api("GET", "/api/v1/jobs")]).then(function (a) {
        state.releases = a[0].releases; state.rollouts = a[1].rollouts; state.jobs = a[2].jobs; renderReleases(); show("releases");
      }, function () {});
    }
    return api("GET", "/api/v1/hosts").then(function (d) { state.hosts = d.hosts; renderFleet(); show("fleet"); }, function () {});
  }
  function soon() { if (!pending) pending = setTimeout(function () { pending = null; refresh(); }, 150); }

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

  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", function (e) {
      e.preventDefault();
      localStorage.setItem(TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      $("login-error").textContent = "";
      connect(); refresh();
    });
    ["filter-tag", "filter-status", "filter-text"].forEach(function (id) { $(id).addEventListener("input", renderFleet); });
    window.addEventListener("hashchange", refresh);
    connect(); refresh();
    setInterval(function () { if (state.route !== "releases") renderFleetAges(); }, 10000);
  });
  function renderFleetAges() { if (!$("fleet").hidden) renderFleet(); }
})();
`;
