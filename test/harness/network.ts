import { attempt, must } from "./sh.js";

/**
 * A test bridge in the root network namespace. Each SimHost gets a network namespace with a
 * veth pair onto it and an address of its own; the test process is `gateway` on the bridge.
 * Traffic stays on this bridge: only test hosts and this process are on it.
 */
export interface TestNetwork {
  bridge: string;
  /** Third octet of 10.231.X.0/24. */
  subnet: number;
  gateway: string;
}

let shared: Promise<TestNetwork> | undefined;

export function testNetwork(): Promise<TestNetwork> {
  shared ??= createNetwork();
  return shared;
}

async function createNetwork(): Promise<TestNetwork> {
  const subnet = 10 + (process.pid % 240);
  const bridge = `oscdbr${subnet}`;
  const gateway = `10.231.${subnet}.1`;
  const exists = (await attempt("ip", ["link", "show", bridge])).exitCode === 0;
  if (!exists) {
    const add = await attempt("ip", ["link", "add", bridge, "type", "bridge"]);
    // Another test process may have made it in the meantime; that is fine.
    if (add.exitCode !== 0 && !/File exists/.test(add.stderr)) {
      throw new Error(`harness: cannot create bridge ${bridge} (needs root and iproute2): ${add.stderr.trim()}`);
    }
    const addr = await attempt("ip", ["addr", "add", `${gateway}/24`, "dev", bridge]);
    if (addr.exitCode !== 0 && !/File exists|already assigned/.test(addr.stderr)) throw new Error(`harness: ${addr.stderr}`);
    await must("ip", ["link", "set", bridge, "up"]);
  }
  return { bridge, subnet, gateway };
}

/** Claims a free host number on the network by creating its namespace (atomic in iproute2). */
export async function claimNamespace(net: TestNetwork): Promise<{ netns: string; index: number; address: string }> {
  for (let i = 2; i < 250; i++) {
    const netns = `oscd${net.subnet}h${i}`;
    const r = await attempt("ip", ["netns", "add", netns]);
    if (r.exitCode === 0) return { netns, index: i, address: `10.231.${net.subnet}.${i}` };
    if (!/File exists/.test(r.stderr)) throw new Error(`harness: cannot create network namespace ${netns} (needs root): ${r.stderr.trim()}`);
  }
  throw new Error("harness: no free host address on the test network");
}

export async function wireHost(net: TestNetwork, netns: string, index: number, address: string): Promise<string> {
  const outside = `oscv${net.subnet}x${index}`;
  await attempt("ip", ["link", "del", outside]);
  await must("ip", ["link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", netns]);
  await must("ip", ["link", "set", outside, "master", net.bridge]);
  await must("ip", ["link", "set", outside, "up"]);
  await must("ip", ["-n", netns, "addr", "add", `${address}/24`, "dev", "eth0"]);
  await must("ip", ["-n", netns, "link", "set", "eth0", "up"]);
  await must("ip", ["-n", netns, "link", "set", "lo", "up"]);
  await must("ip", ["-n", netns, "route", "add", "default", "via", net.gateway]);
  return outside;
}

export async function releaseNamespace(netns: string, outsideLink: string | undefined): Promise<void> {
  if (outsideLink) await attempt("ip", ["link", "del", outsideLink]);
  await attempt("ip", ["netns", "del", netns]);
  await dropBridgeIfUnused();
}

/** The bridge goes with its last host, so test runs leave no interfaces behind. */
async function dropBridgeIfUnused(): Promise<void> {
  if (!shared) return;
  const net = await shared;
  const ports = await attempt("ip", ["-o", "link", "show", "master", net.bridge]);
  if (ports.exitCode === 0 && ports.stdout.trim() === "") {
    shared = undefined;
    await attempt("ip", ["link", "del", net.bridge]);
  }
}
