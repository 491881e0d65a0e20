/** The fleet table and a host's page (dashboard). */
export const FLEET_JS = String.raw`
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

`;
