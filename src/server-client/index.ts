/**
 * The control server's API as the command line uses it (`oscd rollout`, `oscd status --server`,
 * `oscd publish --server`, `oscd server audit`): light on purpose, so talking to a server does
 * not load the server (src/server) itself.
 */
export { ServerClient, ServerRefusedError, ServerRequestError, readServerToken, serverUrl, checkServerUrl, type RequestOptions } from "./request.js";
export { followChanges } from "./events.js";
export { ACTIVE_STATES, FINAL_STATES, findRollout, getRollout, listRollouts, rolloutAction, startRollout, watchRollout, type RolloutAction, type RolloutView, type StartRequest } from "./rollouts.js";
export { fetchFleet, getPlan, listAudit, listReleases, putPlan, releaseToAll, uploadRelease, type UploadedRelease } from "./releases.js";
export { channelInfo, handOff, type ChannelInfo, type HandOff } from "./handoff.js";
