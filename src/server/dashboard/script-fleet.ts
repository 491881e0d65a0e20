/**
 * The fleet view (dashboard): counts per status (a click filters), then each host with its
 * status and cause first, desired and current release (an expiring one is flagged), the agent's
 * own state; a host's page with its report history.
 */
export const FLEET_JS = String.raw`
  function release(d) { return d ? d.version + " #" + d.sequence : "–"; }
  var COUNTED = [["ok", "ok"], ["rolled-back", "rolled back"], ["failed", "failed"], ["drift", "drift"], ["offline", "offline"], ["deploying", "deploying"], ["new", "new"]];
  function agentText(a) {
    if (!a) return "–";
    var bits = [];
    if (a.suspended) bits.push("suspended");
    if (a.fetchError) bits.push("fetch failing: " + a.fetchError.message);
    return bits.length ? bits.join("; ") : "ok";
  }
  function expiryNote(d) {
    if (!d || d.expiresAt == null) return null;
    if (d.expiry === "expired") return el("div", { class: "reason", text: "expired " + ago(d.expiresAt) + ": hosts refuse it" });
    if (d.expiry === "soon") return el("div", { class: "warn", "data-until": String(d.expiresAt), "data-label": "expires in", "data-done": "expired: hosts refuse it", text: "expires in " + secs((d.expiresAt - Date.now()) / 1000) });
    return null;
  }
  function renderCounts(counts) {
    var box = $("fleet-counts");
    box.replaceChildren.apply(box, COUNTED.filter(function (c) { return c[0] === "ok" || c[0] === "rolled-back" || c[0] === "failed" || c[0] === "drift" || c[0] === "offline" || (counts && counts[c[0]] > 0); }).map(function (c) {
      var n = counts ? counts[c[0]] || 0 : 0;
      return el("button", { class: "count s-" + c[0] + (n ? "" : " zero"), "data-count": c[0], onclick: function () { $("filter-status").value = $("filter-status").value === c[0] ? "" : c[0]; renderFleet(); } }, [el("strong", { text: String(n) }), " " + c[1]]);
    }));
  }
  /**
   * Rows drawn at most: 10,000 rows took the page 0.7-0.9 s to draw again, on every change and
   * every keystroke in the filter.
   */
  var FLEET_ROWS = 500;
  function renderFleet() {
    var tagSel = $("filter-tag"), statusSel = $("filter-status");
    var tags = {}, statuses = {};
    state.hosts.forEach(function (h) { h.tags.forEach(function (t) { tags[t] = 1; }); statuses[h.status] = 1; });
    var keepStatus = statusSel.value;
    if (keepStatus) statuses[keepStatus] = 1;
    [[tagSel, tags], [statusSel, statuses]].forEach(function (p) {
      var keep = p[0].value;
      while (p[0].options.length > 1) p[0].remove(1);
      Object.keys(p[1]).sort().forEach(function (v) { p[0].add(new Option(v, v)); });
      p[0].value = keep;
    });
    renderCounts(state.counts);
    var tag = tagSel.value, status = statusSel.value, text = $("filter-text").value.toLowerCase();
    var rows = state.hosts.filter(function (h) {
      return (!tag || h.tags.indexOf(tag) >= 0) && (!status || h.status === status) && (!text || h.host.toLowerCase().indexOf(text) >= 0);
    });
    var drawn = rows;
    if (rows.length > FLEET_ROWS) {
      drawn = rows.filter(function (h) { return h.status !== "ok"; }).concat(rows.filter(function (h) { return h.status === "ok"; })).slice(0, FLEET_ROWS);
    }
    $("fleet-count").textContent = rows.length + " of " + state.hosts.length + (drawn.length < rows.length ? " (" + drawn.length + " drawn, those not ok first: filter to see the rest)" : "");
    var body = $("fleet-table").tBodies[0];
    body.replaceChildren.apply(body, drawn.map(function (h) {
      var c = h.current;
      var cells = [
        ["Host", el("a", { href: "#/host/" + encodeURIComponent(h.host), text: h.host })],
        ["Status", el("span", null, [badge(h.status), h.reason ? el("div", { class: "reason", text: h.reason }) : null])],
        ["Desired", el("span", null, [(h.channel ? h.channel + " " : "") + release(h.desired) + (h.desired ? " · " + h.desired.commit.slice(0, 8) : ""), expiryNote(h.desired)])],
        ["Current", c.version ? c.version + (c.sequence != null ? " #" + c.sequence : "") + (c.commit ? " · " + c.commit.slice(0, 8) : "") : "–"],
        ["Generation", c.generation == null ? "–" : String(c.generation)],
        ["Booted", c.booted ? el("span", { class: "mono", text: c.booted.replace(/^\/nix\/store\/[a-z0-9]{32}-/, "") }) : "–"],
        ["Reboot", c.rebootNeeded == null ? "–" : c.rebootNeeded ? "needed" : "no"],
        ["Agent", el("span", { class: h.agent && (h.agent.suspended || h.agent.fetchError) ? "warn" : "", text: agentText(h.agent) })],
        ["Last seen", ago(h.lastSeen)],
      ];
      return el("tr", { "data-host": h.host, "data-status": h.status }, cells.map(function (p) { return el("td", { "data-label": p[0] }, [p[1]]); }));
    }));
  }

  function historyText(b) {
    var t = b.type === "drift" || b.type === "agent" ? b.message || (b.suspended ? "agent suspended" : b.fetchError ? "fetch failing: " + b.fetchError.message : "agent fine again") : b.reason || b.message || "";
    return t + (b.code && t.indexOf(b.code) < 0 ? " [" + b.code + "]" : "");
  }
  function renderHost(name, data) {
    $("host-name").textContent = name;
    var h = data.host, c = h.current;
    var facts = [["Status", h.status + (h.reason ? ": " + h.reason : "")], ["Agent", agentText(h.agent)], ["Tags", h.tags.join(", ") || "–"], ["Channel", h.channel || "–"], ["Desired", release(h.desired)],
      ["Current", c.version ? c.version + (c.sequence != null ? " #" + c.sequence : "") : "–"], ["Toplevel", c.toplevel || "–"], ["Generation", c.generation == null ? "–" : String(c.generation)],
      ["Booted", c.booted || "–"], ["Reboot needed", c.rebootNeeded == null ? "–" : c.rebootNeeded ? "yes" : "no"], ["Last seen", ago(h.lastSeen)]];
    var dl = $("host-facts");
    dl.replaceChildren.apply(dl, facts.reduce(function (a, f) { return a.concat([el("dt", { text: f[0] }), el("dd", { text: f[1] })]); }, []));
    var ol = $("host-history");
    ol.replaceChildren.apply(ol, data.history.map(function (r) {
      var b = r.body || {}, t = historyText(b);
      return el("li", null, [badge(r.status), " ", new Date(r.received_at).toLocaleString(), " · ", (b.version || "") + (b.sequence != null ? " #" + b.sequence : ""),
        t ? el("div", { class: r.status === "ok" ? "muted" : "reason", text: t }) : null, b.log ? el("pre", { text: b.log }) : null]);
    }));
    if (data.history.length === 0) ol.appendChild(el("li", { class: "muted", text: "no deployments reported yet" }));
  }
`;
