/**
 * The target side's fast paths as POSIX shell, run over SSH: starting a deployment and
 * confirming one need no Node start on the host (each cost ~250 ms of CPU, four per host).
 * Only the detached runner (`oscd deploy-target run ID`, the engine itself) is Node. Every
 * case the shell cannot judge (a runner gone, a deployment already ended) is handed to the
 * Node commands, which settle it (`settledStatus`): the shell only ever takes the common path.
 *
 * Status lines: the runner writes `status.json` as one JSON line, atomically (rename); the
 * shell prints it whenever it changes. A state is matched as the text `"state":"<name>"`,
 * which a JSON string value can never contain (its quotes would be escaped).
 */

const FINAL = ["committed", "unchanged", "dry-run", "rolled-back", "refused", "failed"].map((s) => `*'"state":"${s}"'*`).join("|");

/**
 * `alive PID START`: the process exists and started at that kernel time (a reused pid is not
 * it). `follow DIR LAST STOP_AT_AWAITING`: prints each new status line; returns at a final
 * state, at awaiting-confirm when asked, when the runner is gone (the deployer's Node
 * follower then settles it) or, before the runner wrote its pid, after 60 s; a runner started
 * here (`$runner`) that ends before its first status is recorded as `runner-not-started`.
 */
const FUNCTIONS = `
alive() {
  [ -r "/proc/$1/stat" ] && read -r st < "/proc/$1/stat" || return 1
  want=$2; set -- \${st##*) }; [ "\${20:-}" = "$want" ]
}
running() {
  [ -r "/proc/$1/stat" ] && read -r st < "/proc/$1/stat" || return 1
  set -- \${st##*) }; [ "$1" != Z ]
}
field() { v=\${s#*\\"$1\\":}; [ "$v" != "$s" ] || { v=; return 0; }; v=\${v#\\"}; v=\${v%%[\\",\\}]*}; }
follow() {
  last=$2; n=0
  while :; do
    s=; [ -r "$1/status.json" ] && { read -r s < "$1/status.json" || s=; }
    if [ -n "$s" ] && [ "$s" != "$last" ]; then printf '%s\\n' "$s"; last=$s; fi
    case $s in ${FINAL}) return 0;; *'"state":"awaiting-confirm"'*) [ "$3" = 1 ] && return 0;; esac
    field pid; p=$v; field startTime
    if [ -n "$p" ]; then alive "$p" "$v" || return 0
    elif [ -n "\${runner:-}" ] && ! running "$runner"; then
      # Gone before its first status (it could not even start): say so now, not after a grace period.
      read -r s < "$1/status.json" || s=
      case $s in *'"pid":'*) continue;; esac
      s="{\\"id\\":\\"$id\\",\\"state\\":\\"failed\\",\\"error\\":{\\"code\\":\\"runner-not-started\\",\\"message\\":\\"the activation process exited before it started; see $1/log on the host\\",\\"exitCode\\":1},\\"updatedAt\\":\\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\\"}"
      printf '%s\\n' "$s" > "$1/.status.json.gone" && mv "$1/.status.json.gone" "$1/status.json"
      printf '%s\\n' "$s"; return 0
    else n=$((n+1)); [ "$n" -lt 1200 ] || return 0; fi
    sleep 0.05
  done
}
`;

/**
 * Start: `sh -c START BASE ID OSCD...` with the request (one JSON line) on stdin. Makes the
 * deployment's directory (an existing one is refused: ids are never reused), writes the
 * request and the `started` status, starts the runner detached (a transient unit where
 * systemd runs, else a session of its own with its output in the log), prints `{"id":…}` and
 * follows on this connection until the deployment awaits its confirmation or ends.
 */
export const START_SCRIPT = `${FUNCTIONS}
set -eu
umask 077
base=$1 id=$2; shift 2
exe=$(command -v "$1") || { echo "oscd deploy-target: $1: command not found" >&2; exit 127; }
shift
d=$base/$id
mkdir -p "$base"
mkdir "$d"
cat > "$d/request.json"
printf '{"id":"%s","state":"started","updatedAt":"%s"}\\n' "$id" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" > "$d/.status.json.start"
mv "$d/.status.json.start" "$d/status.json"
if [ -d /run/systemd/system ]; then
  systemd-run --unit="oscd-deploy-$id" --collect --quiet --service-type=exec --setenv=PATH="$PATH" -- "$exe" "$@" deploy-target run "$id"
else
  # In the background of a shell without job control it leads no process group, so setsid
  # makes the session without forking: $! is the runner, watched until its first status.
  setsid "$exe" "$@" deploy-target run "$id" < /dev/null >> "$d/log" 2>&1 &
  runner=$!
fi
printf '{"id":"%s"}\\n' "$id"
set +e
follow "$d" "" 1
`;

/**
 * Confirm, over a NEW connection: `sh -c CONFIRM BASE ID OSCD...`. While the deployment awaits
 * its confirmation and its runner lives, creating the confirmation file is the whole act;
 * then it follows to the end. Anything else (ended, runner gone, no such deployment) goes to
 * `oscd deploy-target confirm ID --follow`, which settles it and refuses a late confirmation.
 */
export const CONFIRM_SCRIPT = `${FUNCTIONS}
umask 077
d=$1/$2 id=$2; shift 2
s=; [ -r "$d/status.json" ] && { read -r s < "$d/status.json" || s=; }
case $s in
  *'"state":"awaiting-confirm"'*)
    field pid; p=$v; field startTime
    if [ -n "$p" ] && alive "$p" "$v"; then
      : > "$d/confirmed"
      printf '%s\\n' "$s"
      follow "$d" "$s" 0
      exit 0
    fi;;
esac
exec "$@" deploy-target confirm "$id" --follow
`;
