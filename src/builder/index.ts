/** Build stage: pin the source, evaluate all selected hosts in one Nix evaluation, build, GC-root the results. */
export { pinFleet, pinnedFleetOf, refCandidates, defaultStateDir, mirrorDirFor, type PinOptions, type PinnedFleet } from "./pin.js";
export { buildTargets, hostTarget, type BuildTarget, type Targets } from "./targets.js";
export { evaluateTargets, evaluationExpr, eachLimited, type EvalOutcome, type Evaluated, type EvaluateOptions, type ExtraExpr } from "./evaluate.js";
export { realiseJobs, invalidPaths, type RealiseJob, type RealiseOutcome, type RealiseEvent, type RealiseOptions } from "./realise.js";
export { buildablePlatforms, builderSystems, type Platforms } from "./platforms.js";
export { buildHosts, buildRootName, failedHosts, type ExtraBuild, type ExtraDerivation, type BuildOptions, type BuildProgress, type BuildReport, type HostBuild, type HostStatus } from "./build.js";
export { checkOverrideInputs, parseOverrideInputs, type OverrideInputs } from "./overrides.js";
export { classicOverrideSource, formatPins, parsePins, pinnedInputs, PinFileInvalidError, PINS_ARGUMENT, type Pin, type PinnedInput, type Pins } from "./pin-file.js";
