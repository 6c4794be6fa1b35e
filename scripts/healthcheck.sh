#!/usr/bin/env bash
# Host health check for cron (every 5 minutes): runs bin/healthcheck for the api and the worker,
# appends one line per run to a log, calls an alert hook when the state changes (and again every
# HEALTHCHECK_ALERT_REPEAT_MIN minutes while it stays failed), exits 1 when anything fails.
#
# usage: scripts/healthcheck.sh [--services "api worker"] [--log FILE]
#        scripts/healthcheck.sh --print-cron | --install-cron
#   --services LIST   which services to check (default $HEALTHCHECK_SERVICES, else "api worker")
#   --log FILE        where the one-line results go (default $HEALTHCHECK_LOG, else
#                     $SA_RUN_DIR/logs/healthcheck.log; SA_RUN_DIR defaults to the repository)
#   --print-cron      print the crontab line; --install-cron adds it to this user's crontab
#                     (idempotent: an older line of ours is replaced)
# Settings (environment, else the service's .env): HEALTHCHECK_ALERT_CMD, a command run by bash
# with HEALTHCHECK_STATUS (fail | recovered), HEALTHCHECK_SUMMARY (the log line) and
# HEALTHCHECK_HOST set and the full report on stdin (e.g. `mail -s "sync-analyzer $HEALTHCHECK_STATUS" ops@example.com`);
# HEALTHCHECK_ALERT_REPEAT_MIN (default 60). When start_all.sh runs the stack, the settings it
# was started with (run/stack.env) are used, and logs/ is the log directory checked.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
RUN_BASE=$(realpath -m "${SA_RUN_DIR:-$ROOT}")
MARK='# sync-analyzer-healthcheck'
cd "$ROOT"

usage() {
  sed -n '/^# usage:/,/^# Settings/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit "${1:-64}"
}

services=${HEALTHCHECK_SERVICES:-api worker}
log=
mode=check
while [ "$#" -gt 0 ]; do
  case "$1" in
    --services) services=${2:?--services needs a list}; shift 2 ;;
    --log) log=${2:?--log needs a file}; shift 2 ;;
    --print-cron) mode=print; shift ;;
    --install-cron) mode=install; shift ;;
    -h | --help) usage 0 ;;
    *) printf 'healthcheck.sh: unknown argument %s\n' "$1" >&2; usage ;;
  esac
done

cron_line() {
  local run='' node_dir
  [ -z "${SA_RUN_DIR:-}" ] || run="SA_RUN_DIR=$(printf '%q' "$RUN_BASE") "
  # cron's PATH is short: name node's directory explicitly.
  node_dir=$(dirname "$(command -v node || echo /usr/bin/node)")
  printf '*/5 * * * * cd %q && PATH=%q:/usr/local/bin:/usr/bin:/bin %sscripts/healthcheck.sh >/dev/null 2>&1 %s\n' "$ROOT" "$node_dir" "$run" "$MARK"
}

if [ "$mode" = print ]; then
  cron_line
  exit 0
fi
if [ "$mode" = install ]; then
  line=$(cron_line)
  if ! command -v crontab >/dev/null; then
    printf 'healthcheck.sh: crontab is not installed (Debian: apt-get install cron); add this line to a crontab yourself:\n%s\n' "$line" >&2
    exit 1
  fi
  # Read the table completely before replacing it.
  current=$(crontab -l 2>/dev/null | grep -vF "$MARK" || true)
  { [ -z "$current" ] || printf '%s\n' "$current"; printf '%s\n' "$line"; } | crontab -
  printf 'installed for user %s: %s\n' "$(id -un)" "$line"
  exit 0
fi

# Settings not in the environment are read from the service's .env (dotenv syntax).
read_setting() { # NAME: prints the value from the environment, else from .env
  local name=$1
  if [ -n "${!name:-}" ]; then
    printf '%s' "${!name}"
  elif [ -f "$ROOT/.env" ]; then
    node -e 'const v = require("dotenv").parse(require("fs").readFileSync(process.argv[1]))[process.argv[2]]; if (v) process.stdout.write(v);' "$ROOT/.env" "$name" 2>/dev/null || true
  fi
}

alert_cmd=$(read_setting HEALTHCHECK_ALERT_CMD)
repeat_min=$(read_setting HEALTHCHECK_ALERT_REPEAT_MIN)
repeat_min=${repeat_min:-60}
[ -n "$log" ] || log=$(read_setting HEALTHCHECK_LOG)
[ -n "$log" ] || log=$RUN_BASE/logs/healthcheck.log
mkdir -p "$(dirname "$log")"

args=()
[ ! -f "$RUN_BASE/run/stack.env" ] || args+=(--env-file "$RUN_BASE/run/stack.env")
[ ! -d "$RUN_BASE/logs" ] || args+=(--log-dir "$RUN_BASE/logs")

status=ok
parts=()
report=''
for s in $services; do
  out=$("$ROOT/bin/healthcheck" --service "$s" "${args[@]}" 2>&1) && rc=0 || rc=$?
  report+="== $s (exit $rc)"$'\n'"$out"$'\n'
  if [ "$rc" -eq 0 ]; then
    parts+=("$s=ok")
  else
    status=fail
    # "FAIL redis  no answer..." -> "redis: no answer..."
    why=$(printf '%s\n' "$out" | sed -n 's/^FAIL \([^ ]*\) *\(.*\)$/\1: \2/p' | paste -sd ';' - | cut -c1-400)
    parts+=("$s=FAIL[${why:-exit $rc}]")
  fi
done
summary="$(date -u +%Y-%m-%dT%H:%M:%SZ) $( [ "$status" = ok ] && echo ok || echo FAIL) ${parts[*]}"

# The log rotates itself: one old file of 1 MB at most beside it.
if [ -f "$log" ] && [ "$(stat -c %s "$log")" -gt 1048576 ]; then mv -f "$log" "$log.1"; fi
printf '%s\n' "$summary" >>"$log"

# Alert on a change of state, and again every repeat_min minutes while failed.
state_file=$log.state
read -r last_status last_alert 2>/dev/null <"$state_file" || { last_status=ok; last_alert=0; }
now=$(date +%s)
notify=''
if [ "$status" = fail ] && { [ "$last_status" != fail ] || [ $((now - ${last_alert:-0})) -ge $((repeat_min * 60)) ]; }; then
  notify=fail
elif [ "$status" = ok ] && [ "$last_status" = fail ]; then
  notify=recovered
fi
if [ -n "$notify" ]; then
  last_alert=$now
  if [ -n "$alert_cmd" ]; then
    printf '%s' "$report" | HEALTHCHECK_STATUS=$notify HEALTHCHECK_SUMMARY=$summary HEALTHCHECK_HOST=$(hostname) timeout 60 bash -c "$alert_cmd" ||
      printf '%s alert command failed (exit %s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$?" >>"$log"
  fi
fi
printf '%s %s\n' "$status" "${last_alert:-0}" >"$state_file"

printf '%s\n' "$summary"
[ "$status" = ok ]
