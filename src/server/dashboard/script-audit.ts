/** The audit list (dashboard): who changed what, when, through which client. */
export const AUDIT_JS = String.raw`
  function renderAudit() {
    var body = $("audit-table").tBodies[0];
    body.replaceChildren.apply(body, state.audit.map(function (a) {
      return el("tr", { "data-action": a.action }, [["When", new Date(a.at).toLocaleString()], ["Who", a.actor], ["Action", a.action], ["Target", a.target], ["Via", a.via || "–"]].map(function (p) { return el("td", { "data-label": p[0], text: p[1] }); }));
    }));
    if (state.audit.length === 0) body.appendChild(el("tr", null, [el("td", { colspan: "5", class: "muted", text: "nothing recorded yet" })]));
  }
`;
