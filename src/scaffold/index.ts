/**
 * Scaffolding a fleet repository (`oscd init`): oscd.toml with the hosts found in the flake,
 * the version file, and CI workflows that call oscd's release and publish commands.
 */
export { CI_KINDS, InitDiscoveryError, initFleet, type CiKind, type InitOptions, type InitResult } from "./init.js";
export {
  githubWorkflows,
  impactWorkflow,
  publishWorkflow,
  releaseWorkflow,
  updateWorkflow,
  IMPACT_WORKFLOW,
  PUBLISH_WORKFLOW,
  RELEASE_WORKFLOW,
  UPDATE_WORKFLOW,
  type ScaffoldFile,
  type WorkflowSettings,
} from "./github.js";
export { HOST_NAME, renderFleetFile, type FleetFileSettings } from "./fleet-file.js";
export { nextSteps, type NextStepsInput } from "./next-steps.js";
