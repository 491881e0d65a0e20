/**
 * The target side of push deploys: what runs on the deployed host (`oscd deploy-target`). Its
 * own entry, so the host's one Node start per deployment (the detached runner) loads the
 * engine and this, not the deployer's build and copy stages.
 */
export { startTargetDeployment, confirmTargetDeployment, followTargetDeployment, rejectTargetDeployment } from "./start.js";
export { runTargetDeployment, settledStatus } from "./run.js";
export { readKeyRequest, writeKeys, writeKey, parseKeyRequests, type KeyWrite } from "./keys.js";
export {
  checkDeploymentId,
  deployDir,
  newDeploymentId,
  parseTargetRequest,
  targetRequestSchema,
  FINAL_STATES,
  HOST_DEPLOY_DIR,
  type TargetRequest,
  type TargetState,
  type TargetStatus,
} from "./state.js";
