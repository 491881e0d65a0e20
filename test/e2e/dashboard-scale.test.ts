import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serializeManifest } from "../../src/manifest/index.js";
import { signedManifest, startTestServer, type TestServer } from "../harness/control-server.js";

/**
 * The dashboard with more hosts than a page can draw: the fleet table draws at most 500 (those
 * not ok first), the Releases view at most 200 of a wave (the failed first) and says how many
 * more there are, asks for the newest rollouts only, and refreshes one request at a time however
 * fast changes come. A missing Chromium fails the test: it is never skipped.
 */
let s: TestServer;
let browser: Browser;
const HOSTS = Array.from({ length: 600 }, (_, i) => `h${String(i + 1).padStart(3, "0")}`);
const FAILED = ["h598", "h599", "h600"];
const tokens = new Map<string, string>();
let rolloutId = "";

beforeAll(async () => {
  s = await startTestServer("sqlite", { tickMs: 100 });
  for (const h of HOSTS) tokens.set(h, await s.hostToken(h, { channel: "main" }));
  await s.api("POST", "/api/v1/releases?immediate=1", { token: s.admin, raw: serializeManifest(signedManifest("main", 1, HOSTS)) });
  await s.api("POST", "/api/v1/releases", { token: s.admin, raw: serializeManifest(signedManifest("main", 2, HOSTS)) });
  // Every host but the three that fail below is ok on #1.
  const fine = HOSTS.filter((h) => !FAILED.includes(h));
  for (let i = 0; i < fine.length; i += 50) {
    await Promise.all(fine.slice(i, i + 50).map((h) => s.api("POST", "/api/v1/reports", { token: tokens.get(h), body: { id: `${h}-1`, status: "success", channel: "main", sequence: 1, version: "1.0.1" } })));
  }
  const started = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, maxFailures: 10, bakeSeconds: 3600 } });
  expect(started.status).toBe(201);
  rolloutId = (started.json as { id: string }).id;
  for (const h of FAILED) {
    const r = await s.api("POST", "/api/v1/reports", { token: tokens.get(h), body: { id: `${h}-2`, status: "failed", channel: "main", sequence: 2, version: "1.0.2", error: "switch-to-configuration failed" } });
    expect(r.status).toBeLessThan(300);
  }
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--disable-background-networking", "--disable-component-update", "--no-sandbox"] });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

describe("a rollout larger than a page", () => {
  it("the Releases view draws 200 hosts of the 600-host wave, the failed ones first, and counts the rest", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.addInitScript((t) => localStorage.setItem("oscd.token", t), s.admin);
    await page.goto(s.url + "/#/releases");
    const wave = page.locator(`[data-rollout="${rolloutId}"] .wave`).first();
    await wave.locator("li.more").waitFor();
    expect(await wave.locator("li.host").count()).toBe(200);
    const first = await wave.locator("li.host").evaluateAll((els) => els.slice(0, 3).map((e) => [e.getAttribute("data-host"), e.getAttribute("data-state")]));
    expect(first).toEqual(FAILED.map((h) => [h, "failed"]));
    expect(await wave.locator("li.more").getAttribute("data-more")).toBe("400");
    expect(await wave.locator("li.more").textContent()).toContain(`oscd rollout status ${rolloutId.slice(0, 8)}`);
    // The counts above the list still cover every host.
    expect(await wave.textContent()).toContain("0 ok · 3 failed · 597 to go of 600");
    await page.close();
  });

  it("the fleet table draws 500 of 600 hosts, those not ok first, and says so", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.addInitScript((t) => localStorage.setItem("oscd.token", t), s.admin);
    await page.goto(s.url + "/");
    await page.locator("#fleet-table tbody tr").first().waitFor();
    expect(await page.locator("#fleet-table tbody tr").count()).toBe(500);
    const first = await page.locator("#fleet-table tbody tr").evaluateAll((els) => els.slice(0, 3).map((e) => [e.getAttribute("data-host"), e.getAttribute("data-status")]));
    expect(first.map((r) => r[0])).toEqual(FAILED);
    expect(first.every((r) => r[1] !== "ok")).toBe(true);
    expect(await page.textContent("#fleet-count")).toBe("600 of 600 (500 drawn, those not ok first: filter to see the rest)");
    // A filter that matches fewer draws them all.
    await page.fill("#filter-text", "h59");
    await expect.poll(() => page.locator("#fleet-table tbody tr").count()).toBe(10);
    expect(await page.textContent("#fleet-count")).toBe("10 of 600");
    await page.close();
  });

  it("refreshes one request at a time while changes keep coming, and asks for the newest rollouts only", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.addInitScript((t) => localStorage.setItem("oscd.token", t), s.admin);
    let inflight = 0;
    let most = 0;
    const asked: string[] = [];
    // Every rollout list answer takes a second, as on a busy server with a large fleet.
    await page.route("**/api/v1/rollouts*", async (route) => {
      asked.push(new URL(route.request().url()).search);
      inflight++;
      most = Math.max(most, inflight);
      await new Promise((r) => setTimeout(r, 1000));
      try {
        await route.continue();
      } finally {
        inflight--;
      }
    });
    await page.goto(s.url + "/#/releases");
    await page.locator(`[data-rollout="${rolloutId}"]`).waitFor();
    await page.locator("#live.on").waitFor();
    const before = asked.length;
    // Ten changes, 100 ms apart: each one is an event the page hears.
    for (const h of HOSTS.slice(0, 10)) {
      await s.api("POST", "/api/v1/reports", { token: tokens.get(h), body: { id: `${h}-2ok`, status: "success", channel: "main", sequence: 2, version: "1.0.2" } });
      await new Promise((r) => setTimeout(r, 100));
    }
    await expect.poll(() => asked.length, { timeout: 10_000 }).toBeGreaterThan(before);
    await new Promise((r) => setTimeout(r, 2500)); // the last refresh asked for lands
    expect(most).toBe(1);
    expect(asked.length - before).toBeLessThanOrEqual(3); // not one per change
    expect(asked.every((q) => q === "?limit=11")).toBe(true); // ten drawn, and one to know there are older ones
    await expect.poll(async () => page.locator(`[data-rollout="${rolloutId}"] .wave`).first().textContent(), { timeout: 10_000 }).toContain("10 ok · 3 failed");
    await page.close();
  });

  it("draws the newest 10 rollouts and says where the older ones are", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.addInitScript((t) => localStorage.setItem("oscd.token", t), s.admin);
    await page.goto(s.url + "/#/releases");
    await page.locator(`[data-rollout="${rolloutId}"]`).waitFor();
    expect(await page.locator(".older-rollouts").count()).toBe(0); // one rollout: nothing older
    let newest = rolloutId;
    for (let i = 0; i < 10; i++) {
      expect((await s.api("POST", `/api/v1/rollouts/${newest}/abort`, { token: s.admin })).status).toBe(200);
      const r = await s.api("POST", "/api/v1/rollouts", { token: s.admin, body: { channel: "main", sequence: 2, maxFailures: 10, bakeSeconds: 3600 } });
      expect(r.status).toBe(201);
      newest = (r.json as { id: string }).id;
    }
    await page.reload();
    await page.locator(`[data-rollout="${newest}"]`).waitFor();
    expect(await page.locator("#rollouts .rollout").count()).toBe(10);
    expect(await page.locator(`[data-rollout="${rolloutId}"]`).count()).toBe(0); // the oldest of 11
    expect(await page.textContent(".older-rollouts")).toBe("the newest 10 rollouts; older ones: oscd rollout list --limit 200");
    await page.close();
  });

  it("the list takes ?limit= and refuses a bad one with a code", async () => {
    const one = await s.api("GET", "/api/v1/rollouts?limit=1", { token: s.admin });
    expect((one.json as { rollouts: unknown[] }).rollouts).toHaveLength(1);
    const bad = await s.api("GET", "/api/v1/rollouts?limit=ten", { token: s.admin });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain("bad-rollouts-query");
  });
});
