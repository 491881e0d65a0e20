import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serializeManifest } from "../../src/manifest/index.js";
import { enqueueJob } from "../../src/server/jobs.js";
import { signedManifest, startTestServer, type TestServer } from "../harness/control-server.js";
import { REPO_ROOT } from "../harness/oscd.js";

/**
 * The dashboard in headless Chromium (Debian's /usr/bin/chromium through playwright-core): it
 * loads, shows a deployment live (server-sent events, no reload), filters, pauses a rollout,
 * and takes screenshots. A missing Chromium fails the test: it is never skipped.
 * OSCD_UPDATE_SCREENSHOTS=1 saves them as the README's, in docs/screenshots; otherwise they go
 * to a temporary folder, so a test run leaves the checkout as it was.
 */
const SHOTS = process.env.OSCD_UPDATE_SCREENSHOTS === "1" ? join(REPO_ROOT, "docs", "screenshots") : join(tmpdir(), `oscd-screenshots-${process.pid}`);
let s: TestServer;
let browser: Browser;
const tokens = new Map<string, string>();
const HOSTS = ["db1", "web1", "web2", "web3"];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  s = await startTestServer("sqlite", { tickMs: 100 });
  for (const h of HOSTS) tokens.set(h, await s.hostToken(h, { tags: h.startsWith("db") ? ["db"] : ["web"], channel: "main" }));
  await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, HOSTS)) });
  await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, HOSTS)) });
  for (const h of HOSTS) {
    await s.api("POST", "/api/v1/reports", { token: tokens.get(h), body: { id: `${h}-1`, status: "success", channel: "main", sequence: 1, version: "1.0.1", commit: "1".padStart(40, "0"), generation: 11, booted: `/nix/store/${"a".repeat(32)}-nixos-system-${h}`, rebootNeeded: h === "db1" } });
  }
  await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, canary: ["web1"], waves: [{ tag: "web" }], bakeSeconds: 3600 } });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--disable-background-networking", "--disable-component-update", "--no-sandbox"] });
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

async function signIn(page: Page, token = s.admin): Promise<void> {
  await page.goto(s.url + "/");
  await page.fill("#token", token);
  await page.click("#login-form button");
  await page.waitForSelector("#fleet-table tbody tr");
  await page.waitForSelector("#live.on");
}

describe("dashboard in headless Chromium", () => {
  it("shows the fleet, hears a deployment live, filters by status and tag", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await signIn(page);
    expect(await page.locator("#fleet-table tbody tr").count()).toBe(4);
    let loads = 0;
    page.on("load", () => loads++);
    // web1 (the canary) reports a failed deployment of release 2: the page shows it without a reload.
    // As the agent reports it: the engine's words, cause last, store paths in full.
    const toplevel = (n: number) => `/nix/store/${"b".repeat(31)}${n}-nixos-system-web1-1.0.${n}`;
    await s.api("POST", "/api/v1/reports", { token: tokens.get("web1"), body: { id: "web1-2", type: "deployment", outcome: "failed", code: "rolled-back", channel: "main", sequence: 2, version: "1.0.2", message: `activation of ${toplevel(2)} failed and was rolled back to ${toplevel(1)}: health checks failed after 1 attempt(s): unit nginx.service failed` } });
    await page.waitForSelector('tr[data-host="web1"] .badge.s-rolled-back');
    // Rolled back, not failed; the cause first, then the code, then the systems by name.
    expect(await page.textContent('tr[data-host="web1"] .reason')).toBe("health checks failed after 1 attempt(s): unit nginx.service failed [rolled-back] (nixos-system-web1-1.0.2 rolled back to nixos-system-web1-1.0.1)");
    expect(loads).toBe(0);
    // The agent of web2 reports it is suspended and its source fails; db1 was changed by hand (drift).
    await s.api("POST", "/api/v1/reports", { token: tokens.get("web2"), body: { id: "web2-a", type: "agent", suspended: true, fetchError: { source: "manifest:main", message: "no manifest URL answered: connection refused" } } });
    await s.api("POST", "/api/v1/reports", { token: tokens.get("db1"), body: { id: "db1-d", type: "drift", toplevel: `/nix/store/${"c".repeat(32)}-nixos-system-db1-0.9.0`, version: "0.9.0", generation: 10, by: "engine deployment 1 (switch, committed)", message: "the running system changed outside the agent: nixos-system-db1-0.9.0 (version 0.9.0, generation 10) instead of nixos-system-db1-1.0.1, by engine deployment 1 (switch, committed)" } });
    await page.waitForSelector('tr[data-host="db1"] .badge.s-drift');
    expect(await page.textContent('tr[data-host="web2"] td[data-label="Agent"]')).toBe("suspended; fetch failing: no manifest URL answered: connection refused");
    expect(await page.textContent('tr[data-host="db1"] td[data-label="Current"]')).toMatch(/^0\.9\.0/);
    expect(await page.textContent('#fleet-counts [data-count="rolled-back"]')).toBe("1 rolled back");
    expect(await page.textContent('#fleet-counts [data-count="drift"]')).toBe("1 drift");
    expect(await page.textContent('#fleet-counts [data-count="ok"]')).toBe("2 ok");
    await page.screenshot({ path: join(SHOTS, "dashboard-fleet.png"), fullPage: true });
    await page.click('#fleet-counts [data-count="rolled-back"]');
    expect(await page.locator("#fleet-table tbody tr").count()).toBe(1);
    expect(await page.textContent("#fleet-table tbody tr")).toContain("web1");
    await page.selectOption("#filter-status", "drift");
    expect(await page.locator("#fleet-table tbody tr").allTextContents()).toEqual([expect.stringContaining("db1")]);
    await page.selectOption("#filter-status", "");
    await page.selectOption("#filter-tag", "db");
    expect(await page.locator("#fleet-table tbody tr").allTextContents()).toEqual([expect.stringContaining("db1")]);
    await page.click('tr[data-host="db1"] a');
    await page.waitForSelector("#host-history li");
    expect(await page.textContent("#host-name")).toBe("db1");
    await page.screenshot({ path: join(SHOTS, "dashboard-host.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows rollout progress per wave and pauses a rollout from its button", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await signIn(page);
    const id = ((await s.api("GET", "/api/v1/rollouts", { token: s.admin })).json as { rollouts: { id: string; state: string }[] }).rollouts[0]!.id;
    // The canary failed above and the rollout halted; once it is fixed, resume it so there is something to pause.
    await s.api("POST", "/api/v1/reports", { token: tokens.get("web1"), body: { id: "web1-2b", status: "success", channel: "main", sequence: 2, version: "1.0.2" } });
    expect((await s.api("POST", `/api/v1/rollouts/${id}/resume`, { token: s.admin })).json).toMatchObject({ state: "running" });
    // A webhook job with its log (queued as the webhook route does; no runner on this server).
    const job = await enqueueJob(s.server.ctx.db, "publish", { event: "push" }, "dashboard-test");
    await s.server.ctx.db.updateTable("jobs").set({ state: "failed", log: "$ oscd publish …\n<b>error</b>: nix build failed\nexit 1\n", finished_at: Date.now() }).where("id", "=", job.id).execute();
    await page.goto(s.url + "/#/releases");
    await page.waitForSelector(`[data-rollout="${id}"] button[data-action="pause"]`);
    await page.click(`a[data-job="${job.id}"]`);
    await page.waitForSelector("#job-log:not([hidden])");
    expect(await page.textContent("#job-log")).toContain("<b>error</b>: nix build failed");
    expect(await page.locator(`[data-rollout="${id}"] .wave`).count()).toBe(3);
    await page.screenshot({ path: join(SHOTS, "dashboard-rollout.png"), fullPage: true });
    await page.click(`[data-rollout="${id}"] button[data-action="pause"]`);
    await page.waitForSelector(`[data-rollout="${id}"] .badge.s-paused`);
    const r = (await s.api("GET", `/api/v1/rollouts/${id}`, { token: s.admin })).json as { state: string };
    expect(r.state).toBe("paused");
    await page.close();
  });

  it("is usable on a phone: the fleet table folds into cards", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await signIn(page);
    const display = await page.$eval("#fleet-table thead", (e) => getComputedStyle(e).display);
    expect(display).toBe("none");
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SHOTS, "dashboard-phone.png"), fullPage: true });
    await page.close();
  });

  it("refuses a wrong token and treats reported text as text, not HTML", async () => {
    await s.api("POST", "/api/v1/reports", { token: tokens.get("web3"), body: { id: "web3-x", status: "failed", reason: '<img src=x onerror="window.pwned=1">' } });
    const page = await browser.newPage();
    await signIn(page);
    await page.waitForSelector('tr[data-host="web3"] .reason');
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator('tr[data-host="web3"] img').count()).toBe(0);
    await page.evaluate(() => localStorage.setItem("oscd.token", "oscd_0123456789abcdef_" + "A".repeat(43)));
    await page.reload();
    await page.waitForSelector("#login:not([hidden])");
    expect(await page.textContent("#login-error")).toContain("refused");
    await page.close();
  });

  it("a viewer sees the fleet, every rollout with its hosts, and the audit list, and is offered no action", async () => {
    const viewer = ((await s.api("POST", "/api/v1/tokens", { token: s.admin, body: { kind: "viewer", label: "wall screen" } })).json as { token: string }).token;
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await signIn(page, viewer);
    expect(await page.textContent("#me")).toBe("viewer · wall screen");
    expect(await page.locator("#fleet-table tbody tr").count()).toBe(4);
    await page.goto(s.url + "/#/releases");
    await page.waitForSelector("[data-rollout] .wave ul.hosts li");
    expect(await page.locator("[data-rollout]").count()).toBeGreaterThan(0);
    expect(await page.locator("button[data-action]").count()).toBe(0);
    await page.goto(s.url + "/#/audit");
    await page.waitForSelector("#audit-table tbody tr[data-action]");
    // The pause of the test above, by the admin token, from the dashboard.
    expect(await page.textContent('#audit-table tr[data-action="rollout.pause"]')).toMatch(/admin token [0-9a-f]{16} \(test\).*rollout [0-9a-f]{16}.*dashboard/);
    await page.screenshot({ path: join(SHOTS, "dashboard-audit.png"), fullPage: true });
    await page.close();
  });

  it("an operator aborts with confirmation, releases to every host after confirming, and starts a rollout from a form prefilled by the channel's plan", async () => {
    const operator = ((await s.api("POST", "/api/v1/tokens", { token: s.admin, body: { kind: "operator", label: "on-call" } })).json as { token: string }).token;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, operator);
    await page.goto(s.url + "/#/releases");
    const id = ((await s.api("GET", "/api/v1/rollouts", { token: s.admin })).json as { rollouts: { id: string }[] }).rollouts[0]!.id;
    // Abort asks first; Cancel leaves it as it is.
    await page.click(`[data-rollout="${id}"] button[data-action="abort"]`);
    await page.waitForSelector("#confirm[open]");
    expect(await page.textContent("#confirm-text")).toMatch(/Abort this rollout\?/);
    await page.click("#confirm-no");
    await page.waitForSelector("#confirm", { state: "hidden" });
    expect(((await s.api("GET", `/api/v1/rollouts/${id}`, { token: s.admin })).json as { state: string }).state).toBe("paused");
    await page.click(`[data-rollout="${id}"] button[data-action="abort"]`);
    await page.click("#confirm-yes");
    await page.waitForSelector(`[data-rollout="${id}"][data-state="aborted"]`);

    // Release 3 waits; Release to every host asks, then serves it to all.
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 3, HOSTS)) });
    // Release 2 (its rollout aborted) waits too until the page hears of 3: wait for 3 by name.
    await page.waitForSelector('[data-channel="main"]:has-text("1.0.3 #3 waits for a rollout") button[data-action="release-all"]');
    await page.click('[data-channel="main"] button[data-action="release-all"]');
    expect(await page.textContent("#confirm-text")).toMatch(/Release main #3 \(1\.0\.3\) to every host at once/);
    await page.click("#confirm-yes");
    await page.waitForSelector('[data-channel="main"]:not(:has(button))');
    expect(JSON.parse((await s.api("GET", "/api/v1/channels/main/manifest", { token: tokens.get("db1") })).text).sequence).toBe(3);

    // Release 4 with a plan on the server: the form is prefilled from it; bad waves are refused in the form.
    await s.api("PUT", "/api/v1/channels/main/plan", { token: s.admin, body: { plan: { canary: ["web2"], waves: [{ tag: "web" }], bakeSeconds: 600, maxFailures: 1 }, source: "oscd.toml at abc (oscd publish)" } });
    await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 4, HOSTS)) });
    await page.waitForSelector('[data-channel="main"] button[data-action="start"]');
    await page.click('[data-channel="main"] button[data-action="start"]');
    await page.waitForSelector("#start-dialog[open]");
    expect(await page.inputValue("#start-waves")).toBe("canary=web2; @web; rest");
    expect([await page.inputValue("#start-bake"), await page.inputValue("#start-max-failures"), await page.inputValue("#start-wave-timeout")]).toEqual(["10m", "1", "1h"]);
    expect(await page.textContent("#start-plan")).toContain("oscd.toml at abc (oscd publish)");
    await page.screenshot({ path: join(SHOTS, "dashboard-start-rollout.png") });
    await page.fill("#start-waves", "@web; canary=web2");
    await page.click("#start-submit");
    await page.waitForSelector("#start-error:not(:empty)");
    expect(await page.textContent("#start-error")).toMatch(/the canary comes first/);
    await page.fill("#start-waves", "canary=web2; @web; rest");
    await page.fill("#start-bake", "0");
    await page.click("#start-submit");
    await page.waitForSelector("#start-dialog", { state: "hidden" });
    await page.waitForSelector('[data-rollout][data-state="running"] [data-wave="0"] li[data-host="web2"][data-state="assigned"]');
    const r = ((await s.api("GET", "/api/v1/rollouts", { token: s.admin })).json as { rollouts: { sequence: number; bake_ms: number; max_failures: number; waves: { name: string }[] }[] }).rollouts[0]!;
    expect([r.sequence, r.bake_ms, r.max_failures, r.waves.map((w) => w.name)]).toEqual([4, 0, 1, ["canary", "wave 1 (@web)", "rest"]]);
    // Each of these actions is in the audit list, by the operator, from the dashboard.
    const audit = ((await s.api("GET", "/api/v1/audit", { token: s.admin })).json as { entries: { action: string; actor: string; via: string }[] }).entries;
    for (const action of ["rollout.start", "release.to-all", "rollout.abort"]) expect(audit.find((a) => a.action === action), action).toMatchObject({ actor: expect.stringMatching(/^operator token [0-9a-f]{16} \(on-call\)$/), via: "dashboard" });
    await page.close();
  });
});
