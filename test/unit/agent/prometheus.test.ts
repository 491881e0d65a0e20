import { describe, expect, it } from "vitest";
import { Counter, Gauge, Registry } from "../../../src/agent/prometheus.js";

describe("the agent's Prometheus text format", () => {
  it("writes HELP, TYPE and one line per label set; an unset plain gauge reads 0; label values are escaped", () => {
    const registry = new Registry();
    const plain = new Gauge({ name: "oscd_need_to_reboot", help: "1 when\na reboot is needed", registers: [registry] });
    const info = new Gauge({ name: "oscd_deployment_info", help: "last deployment", labelNames: ["commit_id", "status"], registers: [registry] });
    const count = new Counter({ name: "oscd_fetch_count", help: "fetches", labelNames: ["remote_name", "status"], registers: [registry] });
    info.set({ commit_id: 'a"b\\c\nd', status: "done" }, 1);
    count.inc({ remote_name: "manifest:main", status: "succeeded" });
    count.inc({ remote_name: "manifest:main", status: "succeeded" });
    count.inc({ remote_name: "git:local", status: "failed" });
    expect(registry.metricsText()).toBe(
      [
        "# HELP oscd_need_to_reboot 1 when\\na reboot is needed",
        "# TYPE oscd_need_to_reboot gauge",
        "oscd_need_to_reboot 0",
        "",
        "# HELP oscd_deployment_info last deployment",
        "# TYPE oscd_deployment_info gauge",
        'oscd_deployment_info{commit_id="a\\"b\\\\c\\nd",status="done"} 1',
        "",
        "# HELP oscd_fetch_count fetches",
        "# TYPE oscd_fetch_count counter",
        'oscd_fetch_count{remote_name="manifest:main",status="succeeded"} 2',
        'oscd_fetch_count{remote_name="git:local",status="failed"} 1',
        "",
      ].join("\n"),
    );
    plain.set(1);
    info.reset();
    expect(registry.metricsText()).toMatch(/^oscd_need_to_reboot 1$/m);
    expect(registry.metricsText()).not.toMatch(/^oscd_deployment_info\{/m);
  });
});
