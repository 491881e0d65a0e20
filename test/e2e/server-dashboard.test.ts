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

async function signIn(page: Page): Promise<void> {
  await page.goto(s.url + "/");
  await page.fill("#token", s.admin);
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
    await s.api("POST", "/api/v1/reports", { token: tokens.get("web1"), body: { id: "web1-2", status: "rolled-back", channel: "main", sequence: 2, version: "1.0.2", reason: "health check nginx.service failed" } });
    await page.waitForSelector('tr[data-host="web1"] .badge.s-failed');
    expect(await page.textContent('tr[data-host="web1"]')).toContain("health check nginx.service failed");
    expect(loads).toBe(0);
    await page.screenshot({ path: join(SHOTS, "dashboard-fleet.png"), fullPage: true });
    await page.selectOption("#filter-status", "failed");
    expect(await page.locator("#fleet-table tbody tr").count()).toBe(1);
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
});
