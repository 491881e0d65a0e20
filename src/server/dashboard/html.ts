/** The dashboard's page: a shell the script fills; no inline script or style (the CSP forbids both). */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>oscd fleet</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>oscd</h1>
  <nav>
    <a href="#/fleet" id="nav-fleet">Fleet</a>
    <a href="#/releases" id="nav-releases">Releases</a>
    <a href="#/audit" id="nav-audit">Audit</a>
  </nav>
  <span id="me" class="muted" title="the signed-in token's role"></span>
  <span id="live" class="live off" title="live updates">offline</span>
</header>
<main>
  <p id="flash" class="error" role="alert" hidden></p>
  <section id="login" hidden>
    <h2>Sign in</h2>
    <p>Paste a token: a viewer sees everything and changes nothing (<code>oscd server token create --role viewer</code>), an operator also starts and steers rollouts, an admin does everything. It stays in this browser only.</p>
    <form id="login-form"><input id="token" type="password" autocomplete="off" placeholder="oscd_…" aria-label="token"><button type="submit">Sign in</button></form>
    <p id="login-error" class="error"></p>
  </section>
  <section id="fleet" hidden>
    <div class="toolbar">
      <h2>Fleet <span id="fleet-count" class="muted"></span></h2>
      <label>Tag <select id="filter-tag"><option value="">all</option></select></label>
      <label>Status <select id="filter-status"><option value="">all</option></select></label>
      <input id="filter-text" type="search" placeholder="host…" aria-label="filter hosts">
    </div>
    <div id="fleet-counts" class="counts" aria-label="hosts per status"></div>
    <table id="fleet-table" class="cards">
      <thead><tr><th>Host</th><th>Status</th><th>Desired</th><th>Current</th><th>Generation</th><th>Booted</th><th>Reboot</th><th>Agent</th><th>Last seen</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="host" hidden>
    <p><a href="#/fleet">← Fleet</a></p>
    <h2 id="host-name"></h2>
    <dl id="host-facts"></dl>
    <h3>Deployment history</h3>
    <ol id="host-history" class="history"></ol>
  </section>
  <section id="releases" hidden>
    <h2>Channels</h2>
    <div id="channels" class="channels"></div>
    <h2>Rollouts</h2>
    <div id="rollouts"></div>
    <h2>Releases</h2>
    <table id="release-table" class="cards">
      <thead><tr><th>Channel</th><th>Sequence</th><th>Version</th><th>Commit</th><th>Signed by</th><th>State</th><th>Created</th><th>Expires</th></tr></thead>
      <tbody></tbody>
    </table>
    <h2>Jobs <span class="muted">(from webhooks)</span></h2>
    <table id="job-table" class="cards">
      <thead><tr><th>Job</th><th>Kind</th><th>State</th><th>Queued</th><th>Finished</th></tr></thead>
      <tbody></tbody>
    </table>
    <pre id="job-log" class="log" hidden></pre>
  </section>
  <section id="audit" hidden>
    <h2>Audit <span class="muted">(who changed what, newest first)</span></h2>
    <table id="audit-table" class="cards">
      <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Via</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <dialog id="start-dialog" aria-labelledby="start-title">
    <form id="start-form">
      <h3 id="start-title">Start rollout of <span id="start-release"></span></h3>
      <p id="start-plan" class="muted"></p>
      <label>Waves <input id="start-waves" autocomplete="off" spellcheck="false" placeholder="canary=web1; @web; 50%; rest"></label>
      <p class="muted">canary=HOST,… first; @TAG; N% (cumulative); HOST,…; rest (implied); all: one wave</p>
      <label>Bake per wave <input id="start-bake" autocomplete="off" placeholder="10m"></label>
      <label>Failures tolerated <input id="start-max-failures" inputmode="numeric" autocomplete="off"></label>
      <label>Wave timeout <input id="start-wave-timeout" autocomplete="off" placeholder="1h"></label>
      <p id="start-error" class="error"></p>
      <div class="actions"><button type="submit" id="start-submit">Start rollout</button><button type="button" id="start-cancel">Cancel</button></div>
    </form>
  </dialog>
  <dialog id="confirm" aria-labelledby="confirm-text">
    <p id="confirm-text"></p>
    <div class="actions"><button type="button" id="confirm-yes" class="danger"></button><button type="button" id="confirm-no">Cancel</button></div>
  </dialog>
</main>
</body>
</html>
`;
