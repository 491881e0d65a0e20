/**
 * Rollout plans as people write them (`--waves 'canary=web1; @web; 50%; rest'`, `--bake 10m`,
 * oscd.toml's `[channels.<name>.rollout]`, the dashboard's form): parsed and printed here, with no
 * dependency, so the command line, the fleet file and the server read them the same way.
 */
export { formatDuration, formatWaves, parseDuration, parseWaves, PLAN_NAME, PLAN_NAME_MAX, RolloutPlanError, type RolloutPlan, type WaveSpec } from "./plan.js";
