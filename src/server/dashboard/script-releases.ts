/**
 * The Releases view (dashboard): channels with what waits for a rollout, the Start rollout form
 * (prefilled from the channel's plan) and Release to every host; each rollout wave by wave with
 * its hosts' states, start times and bake countdowns; Pause, Resume, Promote, Abort (Resume and
 * Abort ask first); releases and webhook jobs. Operator actions are shown only to roles that
 * may take them.
 */
export const RELEASES_JS = String.raw`
  function act(id, what) {
    var sure = what === "abort" ? ask("Abort this rollout? Hosts it reached keep the release; the others keep theirs. It cannot be resumed.", "Abort rollout")
      : what === "resume" ? ask("Resume this rollout? The next waves will start as their hosts report healthy.", "Resume rollout")
      : Promise.resolve(true);
    return sure.then(function (ok) {
      if (!ok) return;
      return api("POST", "/api/v1/rollouts/" + encodeURIComponent(id) + "/" + what).then(function () { flash(""); refresh(); }, function (e) { flash(e.message); });
    });
  }

  function releaseToAll(c) {
    var n = c.newest;
    return ask("Release " + c.channel + " #" + n.sequence + " (" + n.version + ") to every host at once, without waves?", "Release to every host").then(function (ok) {
      if (!ok) return;
      return api("POST", "/api/v1/releases/" + encodeURIComponent(c.channel) + "/" + n.sequence + "/complete").then(function () { flash(""); refresh(); }, function (e) { flash(e.message); });
    });
  }

  var starting = null;
  function openStart(c) {
    starting = c;
    var f = c.planForm;
    $("start-release").textContent = c.channel + " #" + c.newest.sequence + " (" + c.newest.version + ")";
    $("start-waves").value = f.waves; $("start-bake").value = f.bake; $("start-max-failures").value = String(f.maxFailures); $("start-wave-timeout").value = f.waveTimeout;
    $("start-plan").textContent = c.plan ? "prefilled from the channel's plan (" + (c.planSource || "the server") + ")" : "the channel has no plan ([channels." + c.channel + ".rollout] in oscd.toml): the defaults";
    $("start-error").textContent = "";
    $("start-dialog").showModal();
  }
  function setupStartForm() {
    $("start-cancel").addEventListener("click", function (e) { e.preventDefault(); $("start-dialog").close(); });
    $("start-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var c = starting;
      if (!c) return;
      var max = $("start-max-failures").value.trim();
      if (!/^\d{1,7}$/.test(max)) { $("start-error").textContent = "the failure budget is a whole number"; return; }
      var body = { channel: c.channel, sequence: c.newest.sequence, wavesText: $("start-waves").value, bake: $("start-bake").value.trim(), maxFailures: Number(max), waveTimeout: $("start-wave-timeout").value.trim() };
      api("POST", "/api/v1/rollouts", body).then(function () { $("start-dialog").close(); flash(""); refresh(); }, function (err) { $("start-error").textContent = err.message; });
    });
  }

  function renderChannels() {
    var box = $("channels");
    box.replaceChildren.apply(box, state.channels.map(function (c) {
      var n = c.newest, waiting = n && n.state === "pending" && !(c.rollout && c.rollout.sequence >= n.sequence && c.rollout.state !== "halted");
      var buttons = [];
      if (waiting && may("operate")) {
        buttons.push(el("button", { text: "Start rollout", "data-action": "start", onclick: function () { openStart(c); } }));
        buttons.push(el("button", { text: "Release to every host", "data-action": "release-all", onclick: function () { releaseToAll(c); } }));
      }
      var what = !n ? "no release yet" : waiting ? n.version + " #" + n.sequence + " waits for a rollout" : c.rollout ? n.version + " #" + n.sequence + ": rollout " + c.rollout.state : n.version + " #" + n.sequence + " served to every host";
      return el("div", { class: "channel", "data-channel": c.channel }, [
        el("h3", null, [c.channel, " ", n ? badge(waiting ? "waiting" : c.rollout ? c.rollout.state : n.state) : null]),
        el("div", { text: what }),
        el("div", { class: "muted", text: "plan: " + (c.plan ? c.planForm.waves + " · bake " + c.planForm.bake + " · " + c.planForm.maxFailures + " failure(s) tolerated" : "none (all hosts in one wave)") + (c.servedToAll ? " · every host has at least #" + c.servedToAll.sequence : "") }),
        buttons.length ? el("div", { class: "actions" }, buttons) : null,
      ]);
    }));
    if (state.channels.length === 0) box.appendChild(el("p", { class: "muted", text: "no channel has a release yet: oscd publish --server URL" }));
  }

  function hostItem(h) {
    return el("li", { class: "host h-" + h.state, "data-host": h.host, "data-state": h.state }, [
      el("span", { class: "name", text: h.host }), " ", el("span", { class: "st", text: h.state }),
      h.at != null && h.state !== "waiting" ? el("span", { class: "muted", text: " " + clock(h.at) }) : null,
      h.reason ? el("div", { class: "reason", text: h.reason }) : null,
    ]);
  }

  function waveCard(r, w) {
    var n = w.hosts.length || 1;
    var ok = w.progress.filter(function (h) { return h.state === "ok"; }).length, bad = w.progress.filter(function (h) { return h.state === "failed"; }).length;
    var bar = el("div", { class: "bar" }, [el("span", { class: "ok" }), el("span", { class: "bad" })]);
    bar.children[0].style.width = (100 * ok / n) + "%";
    bar.children[1].style.width = (100 * bad / n) + "%";
    var timing = [];
    if (w.startedAt != null) timing.push(el("div", { class: "muted wave-start", text: "started " + clock(w.startedAt) }));
    if (w.bakeEndsAt != null && (r.state === "running" || r.state === "paused")) timing.push(el("div", { class: "countdown", "data-until": String(w.bakeEndsAt), "data-label": "baking: next wave in", "data-done": "baked: the next wave starts now", text: "baking: next wave in " + secs((w.bakeEndsAt - Date.now()) / 1000) }));
    if (w.finishedAt != null) timing.push(el("div", { class: "muted", text: "done " + clock(w.finishedAt) }));
    return el("div", { class: "wave", "data-wave": String(w.idx), "data-state": w.state }, [el("strong", { text: (w.idx + 1) + ". " + w.name }), " ", badge(w.state), bar,
      el("div", { class: "muted", text: ok + " ok · " + bad + " failed · " + (w.hosts.length - ok - bad) + " to go of " + w.hosts.length }),
      el("div", null, timing), hostList(r, w.progress)]);
  }

  /**
   * A wave's hosts, at most HOSTS_SHOWN of them (failed ones first when there are more): a
   * 10,000-host wave drawn whole on every change made the page stop answering.
   */
  var HOSTS_SHOWN = 200;
  function hostList(r, progress) {
    var shown = progress;
    if (progress.length > HOSTS_SHOWN) {
      var failed = progress.filter(function (h) { return h.state === "failed"; });
      shown = failed.concat(progress.filter(function (h) { return h.state !== "failed"; })).slice(0, HOSTS_SHOWN);
    }
    var items = shown.map(hostItem);
    if (shown.length < progress.length) {
      items.push(el("li", { class: "more muted", "data-more": String(progress.length - shown.length), text: "and " + (progress.length - shown.length) + " more: oscd rollout status " + r.id.slice(0, 8) + " --json lists every host" }));
    }
    return el("ul", { class: "hosts" }, items);
  }

  function rolloutCard(r) {
    var buttons = [];
    if (may("operate")) {
      if (r.state === "running") buttons.push(el("button", { text: "Pause", "data-action": "pause", onclick: function () { act(r.id, "pause"); } }));
      if (r.state === "paused" || r.state === "halted") buttons.push(el("button", { text: "Resume", "data-action": "resume", onclick: function () { act(r.id, "resume"); } }));
      if (r.state === "running" || r.state === "paused") buttons.push(el("button", { text: "Promote wave", "data-action": "promote", onclick: function () { act(r.id, "promote"); } }));
      if (r.state !== "done" && r.state !== "aborted") buttons.push(el("button", { class: "danger", text: "Abort", "data-action": "abort", onclick: function () { act(r.id, "abort"); } }));
    }
    return el("div", { class: "rollout", "data-rollout": r.id, "data-state": r.state }, [
      el("h3", null, [r.channel + " #" + r.sequence + (r.version ? " (" + r.version + ")" : ""), badge(r.state), el("span", { class: "muted mono", text: r.id })]),
      r.reason ? el("div", { class: "reason", text: r.reason }) : null,
      el("div", { class: "muted", text: "started " + clock(r.created_at) + " · bake " + secs(r.bake_ms / 1000) + " · " + r.max_failures + " failure(s) tolerated · wave timeout " + (r.wave_timeout_ms ? secs(r.wave_timeout_ms / 1000) : "none") }),
      el("div", { class: "waves" }, r.waves.map(function (w) { return waveCard(r, w); })),
      buttons.length ? el("div", { class: "actions" }, buttons) : null,
    ]);
  }

  /** A release's expiry, flagged when under a quarter of its validity (at most a day, at least an hour) is left. */
  function expiresCell(r) {
    if (r.expires_at == null) return "never";
    var left = r.expires_at - Date.now(), validity = r.expires_at - r.created_at;
    var soon = left < Math.min(86400000, Math.max(3600000, validity / 4));
    if (left <= 0) return el("span", { class: "reason", "data-expiry": "expired", text: new Date(r.expires_at).toLocaleString() + " (expired)" });
    return el("span", { class: soon ? "warn" : "", "data-expiry": soon ? "soon" : "ok", text: new Date(r.expires_at).toLocaleString() + (soon ? " (in " + secs(left / 1000) + ")" : "") });
  }

  function renderReleases() {
    renderChannels();
    var box = $("rollouts");
    box.replaceChildren.apply(box, state.rollouts.slice(0, ROLLOUTS_SHOWN).map(rolloutCard));
    if (state.rollouts.length === 0) box.appendChild(el("p", { class: "muted", text: "no rollouts yet" }));
    if (state.rollouts.length > ROLLOUTS_SHOWN) box.appendChild(el("p", { class: "muted older-rollouts", text: "the newest " + ROLLOUTS_SHOWN + " rollouts; older ones: oscd rollout list --limit 200" }));
    var body = $("release-table").tBodies[0];
    body.replaceChildren.apply(body, state.releases.map(function (r) {
      return el("tr", null, [["Channel", r.channel], ["Sequence", String(r.sequence)], ["Version", r.version], ["Commit", el("span", { class: "mono", text: r.commit.slice(0, 12) })],
        ["Signed by", r.signer], ["State", badge(r.state)], ["Created", new Date(r.created_at).toLocaleString()], ["Expires", expiresCell(r)]].map(function (p) { return el("td", { "data-label": p[0] }, [p[1]]); }));
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
    }, function (e) { flash(e.message); });
  }
`;
