/** The dashboard's style: readable on a laptop, tables fold into cards on a phone. */
export const DASHBOARD_CSS = `
:root { --bg:#f7f7f8; --fg:#1d1d1f; --muted:#6b6b73; --line:#dedee3; --card:#fff; --ok:#1a7f37; --bad:#c62828; --warn:#b26a00; --drift:#7b3fbf; --acc:#2f5bd3; color-scheme: light dark; }
@media (prefers-color-scheme: dark) { :root { --bg:#141416; --fg:#ececf1; --muted:#9a9aa5; --line:#2c2c33; --card:#1c1c21; --acc:#7aa2ff; } }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:center; gap:1rem; padding:.6rem 1rem; border-bottom:1px solid var(--line); background:var(--card); position:sticky; top:0; z-index:1; }
header h1 { font-size:1.1rem; margin:0; letter-spacing:.04em; }
nav { display:flex; gap:.8rem; flex:1; }
nav a { color:var(--muted); text-decoration:none; padding:.2rem .1rem; }
nav a.active { color:var(--fg); border-bottom:2px solid var(--acc); }
main { padding:1rem; max-width:1400px; margin:0 auto; }
h2 { font-size:1.05rem; margin:.2rem 0 .8rem; }
.muted { color:var(--muted); font-weight:normal; }
.toolbar { display:flex; flex-wrap:wrap; gap:.6rem 1rem; align-items:center; margin-bottom:.6rem; }
.toolbar h2 { margin:0; flex:1 1 100%; }
@media (min-width:800px) { .toolbar h2 { flex:1 1 auto; } }
select, input, button { font:inherit; padding:.35rem .5rem; border:1px solid var(--line); border-radius:6px; background:var(--card); color:var(--fg); }
button { cursor:pointer; }
button.danger { border-color:var(--bad); color:var(--bad); }
table { width:100%; border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.8rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
td a { color:var(--acc); text-decoration:none; font-weight:600; }
code, .mono { font-family:ui-monospace, "SFMono-Regular", Menlo, monospace; font-size:.85em; }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.8rem; border:1px solid currentColor; white-space:nowrap; }
.s-ok, .s-done, .s-complete { color:var(--ok); }
.s-failed, .s-halted, .s-aborted, .s-offline { color:var(--bad); }
.s-rolled-back { color:var(--warn); } .s-drift { color:var(--drift); }
.warn { color:var(--warn); font-size:.85rem; }
.counts { display:flex; flex-wrap:wrap; gap:.4rem; margin:0 0 .6rem; }
.counts .count { border-color:currentColor; } .counts .count.zero { opacity:.55; }
.s-deploying, .s-running, .s-baking, .s-active, .s-paused, .s-pending, .s-waiting { color:var(--warn); }
.s-new, .s-unknown { color:var(--muted); }
.reason { color:var(--bad); font-size:.85rem; }
.live { font-size:.8rem; }
.live.on { color:var(--ok); } .live.off { color:var(--bad); }
.rollout { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.8rem; margin-bottom:1rem; }
.rollout h3 { margin:0 0 .3rem; font-size:1rem; display:flex; gap:.5rem; flex-wrap:wrap; align-items:center; }
.waves { display:grid; gap:.5rem; grid-template-columns:repeat(auto-fill, minmax(220px, 1fr)); margin:.6rem 0; }
.wave { border:1px solid var(--line); border-radius:6px; padding:.5rem; }
.bar { height:8px; border-radius:4px; background:var(--line); overflow:hidden; display:flex; margin:.3rem 0; }
.bar .ok { background:var(--ok); } .bar .bad { background:var(--bad); }
.actions { display:flex; gap:.5rem; flex-wrap:wrap; }
.error { color:var(--bad); }
.channels { display:grid; gap:.6rem; grid-template-columns:repeat(auto-fill, minmax(280px, 1fr)); margin-bottom:1rem; }
.channel { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.7rem; }
.channel h3 { margin:0 0 .3rem; font-size:1rem; display:flex; gap:.5rem; align-items:center; }
.channel .actions { margin-top:.5rem; }
ul.hosts { list-style:none; padding:0; margin:.4rem 0 0; display:grid; gap:.2rem; }
ul.hosts li { font-size:.85rem; }
ul.hosts li .st { font-weight:600; }
.h-ok .st { color:var(--ok); } .h-failed .st { color:var(--bad); } .h-deploying .st, .h-assigned .st { color:var(--warn); } .h-waiting .st { color:var(--muted); }
.countdown { color:var(--warn); font-size:.85rem; }
dialog { border:1px solid var(--line); border-radius:10px; background:var(--card); color:var(--fg); max-width:min(34rem, 92vw); }
dialog::backdrop { background:rgba(0,0,0,.45); }
dialog label { display:flex; flex-direction:column; gap:.2rem; margin:.5rem 0; font-size:.9rem; }
dialog h3 { margin-top:0; }
#flash { background:var(--card); border:1px solid var(--bad); border-radius:8px; padding:.5rem .7rem; }
pre.log { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.7rem; white-space:pre-wrap; word-break:break-all; max-height:24rem; overflow:auto; font-size:.8rem; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:.2rem 1rem; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.8rem; }
dt { color:var(--muted); } dd { margin:0; word-break:break-all; }
.history { list-style:none; padding:0; }
.history li { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.5rem .7rem; margin-bottom:.5rem; }
.history pre { white-space:pre-wrap; word-break:break-all; margin:.3rem 0 0; font-size:.8rem; max-height:12rem; overflow:auto; }
@media (max-width:700px) {
  table.cards, table.cards tbody, table.cards tr, table.cards td { display:block; width:100%; }
  table.cards { border:none; background:none; }
  table.cards thead { display:none; }
  table.cards tr { background:var(--card); border:1px solid var(--line); border-radius:8px; margin-bottom:.6rem; padding:.3rem 0; }
  table.cards td { border:none; padding:.2rem .7rem; display:flex; gap:.6rem; }
  table.cards td::before { content:attr(data-label); color:var(--muted); min-width:6.5rem; font-size:.8rem; text-transform:uppercase; }
  header { flex-wrap:wrap; }
}
`;
