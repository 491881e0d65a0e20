/** Push deploys over SSH (deployer side) and their target side; air-gapped bundles. */
export {
  startTargetDeployment,
  confirmTargetDeployment,
  followTargetDeployment,
  rejectTargetDeployment,
  runTargetDeployment,
  settledStatus,
  checkDeploymentId,
  newDeploymentId,
  FINAL_STATES,
  type TargetRequest,
  type TargetState,
  type TargetStatus,
} from "./target/index.js";
export { deploy, type DeployOptions } from "./deploy.js";
export { deployExitCode, type DeployMode, type DeployEvent, type DeployReport, type HostReport, type HostResult } from "./events.js";
export { passwordFromFile, passwordFromTerminal } from "./sudo.js";
export { parseSshTarget, shellQuote, commandLine } from "./ssh.js";
export { createBundle, BUNDLE_CACHE, BUNDLE_MANIFEST, type BundleOptions, type BundleReport } from "./bundle.js";
export { verifyBundle, activateBundle, BundleRefusedError, type VerifiedBundle, type BundleActivation } from "./bundle-import.js";
export { parseProbe, runProbes, probeUrl, type DeployerProbe, type ProbeSettings } from "./probes.js";
