/** Inspection: option values of a host's configuration, what a change does to a host (diff) and to the fleet (impact). */
export { BadOptionPathError, DiffBuildError, DiffEndpointError, NoConfigAttributeError, OptionNotFoundError, UnknownHostError } from "./errors.js";
export { editDistance, nearestNames } from "./nearest.js";
export { packageDiff, parseName, type PackageChange, type PackageDiff } from "./packages.js";
export { diffSystems, type SystemDiff } from "./closure-diff.js";
export { configAttribute, optionValue, parseOptionPath, rootExpr, type OptionQuery } from "./option.js";
export { diffHost, parseEndpoint, type DiffRequest, type DiffResult, type Endpoint } from "./diff.js";
export { impact, type HostImpact, type HostImpactStatus, type ImpactReport, type ImpactRequest } from "./impact.js";
export { evaluateRevision, type EvaluatedRevision, type RepoOptions } from "./revision.js";
