/** The test harness: simulated NixOS hosts, fixture fleets, and test Nix settings. */
export { SimHost, nixConf, type SimHostOptions, type ExecOptions } from "./simhost.js";
export { FleetRepo, GIT_ENV, type FleetHostSpec, type FleetLayout } from "./fleet-repo.js";
export { testNetwork, type TestNetwork } from "./network.js";
export { clientKey, type SshClientKey } from "./sshd.js";
export { TEST_NIX_CONFIG, testNixEnv } from "./nix-env.js";
export { must, attempt } from "./sh.js";
export { buildFakeToplevel, uniqueMarker, tempDir, type FakeToplevelArgs } from "./fixtures.js";
export { ensureBuilt, oscdOn, OSCD_BIN, REPO_ROOT } from "./oscd.js";
export { NEWER_NIX, NEWER_NIX_VERSION, newerNixBin, withNewerNix } from "./nix-newer.js";
export { deployFleet, deploySshArgs, oscdDeploy, DEPLOY_MACHINE_TOML, REMOTE_OSCD, type DeployFleet } from "./deploy-hosts.js";
export { addSudoUser } from "./sudo-user.js";
export { pidNamespace, sampleProcesses, type ProcessSample } from "./proc-sampler.js";
export { ManifestServer } from "./manifest-server.js";
export { AgentProcess, waitFor } from "./agent-process.js";
