#!/usr/bin/env bash
# Native mode (no Docker): runs the API, a worker and, when no Redis answers at REDIS_URL and it
# is local, a redis-server of its own (appendonly, noeviction), under supervisord: crashed
# processes come back by themselves, logs rotate under logs/, and an event listener keeps
# logs/process_status.json current. Without supervisord it falls back, with a warning, to plain
# background processes (no restarts, no rotation).
#
#   ./start_all.sh [prod]    start in the background (idempotent), wait until healthy
#   ./start_all.sh dev       foreground, hot reload (tsx watch), Ctrl-C stops
#   ./start_all.sh stop      graceful stop; leaves no process behind
#   ./start_all.sh status    process states, restarts, health (exit 0 only when all is well)
#   ./start_all.sh restart   stop, then prod
#   ./start_all.sh logs      follow the logs
#
# Settings: the environment over .env (see .env.example), validated by the app itself before
# anything starts. Script settings: SA_RUN_DIR (where logs/ and run/ go; default: this
# directory), SA_START_TIMEOUT (seconds to wait for health, default 180), SA_REDIS_MAXMEMORY
# (default 512mb), SUPERVISORD / SUPERVISORCTL / REDIS_SERVER (binaries).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
RUN_BASE=$(realpath -m "${SA_RUN_DIR:-$ROOT}")
# The processes run here and read ./.env from here, whatever the caller's directory.
cd "$ROOT"
LOG_DIR=$RUN_BASE/logs
RUN_DIR=$RUN_BASE/run
CONF=$RUN_DIR/supervisord.conf
PIDFILE=$RUN_DIR/supervisord.pid
STACK_ENV=$RUN_DIR/stack.env
TEMPLATE=$ROOT/deploy/supervisord.conf.template
SUPERVISORD=${SUPERVISORD:-supervisord}
SUPERVISORCTL=${SUPERVISORCTL:-supervisorctl}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
START_TIMEOUT=${SA_START_TIMEOUT:-180}
REDIS_MAXMEMORY=${SA_REDIS_MAXMEMORY:-512mb}
TSX_LOADER=$ROOT/node_modules/tsx/dist/loader.mjs

say() { printf '[start_all] %s\n' "$*" >&2; }
die() {
  local code=$1
  shift
  say "error: $*"
  exit "$code"
}

NODE=$(command -v node || true)
[ -n "$NODE" ] || die 1 "node is not installed (Node.js 20+ is needed)"
[ -f "$TSX_LOADER" ] || die 1 "dependencies are not installed in $ROOT (run: npm ci)"

declare -A CFG=()

# The service's own validation of its settings (exit 78 with the bad variable named).
load_config() {
  local out k v rc=0
  out=$("$NODE" --import "$TSX_LOADER" "$ROOT/services/ops/src/stack-config.ts" "$@") || rc=$?
  [ "$rc" -eq 0 ] || die "$rc" "the configuration is not valid (environment and $ROOT/.env); nothing was started"
  while IFS=$'\t' read -r k v; do
    [ -n "$k" ] && CFG[$k]=$v
  done <<<"$out"
}

port_open() { # host port: does something accept connections there?
  # shellcheck disable=SC2016 # $1/$2 expand in the inner bash, which gets them as arguments
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

http_ok() { # url: 200 within 2 s?
  "$NODE" -e 'fetch(process.argv[1],{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))' "$1"
}

is_local_host() { case "$1" in 127.0.0.1 | localhost | ::1) return 0 ;; *) return 1 ;; esac }

supervisord_pid() { # prints the pid of our running supervisord, fails when none
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    printf '%s\n' "$pid"
  else
    return 1
  fi
}

ctl() { "$SUPERVISORCTL" -c "$CONF" "$@"; }

descendants() { # pid: every process below it
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
    printf '%s\n' "$c"
    descendants "$c"
  done
}

# LOG_MAX_SIZE (10m, 500k, 1g) in supervisord's notation.
supervisor_size() {
  local s=${1,,}
  case "$s" in
    *k) printf '%sKB' "${s%k}" ;;
    *m) printf '%sMB' "${s%m}" ;;
    *g) printf '%sGB' "${s%g}" ;;
    *) printf '%s' "$s" ;;
  esac
}

DEV_PIDS=()

# Decides where Redis comes from; sets WANT_REDIS=1 when we must run our own.
WANT_REDIS=0
decide_redis() {
  local host=${CFG[REDIS_HOST]} port=${CFG[REDIS_PORT]}
  if port_open "$host" "$port"; then
    say "using the Redis that answers at $host:$port (REDIS_URL)"
  elif is_local_host "$host"; then
    command -v "$REDIS_SERVER" >/dev/null || die 1 "no Redis answers at $host:$port and redis-server is not installed (Debian: apt-get install redis-server)"
    WANT_REDIS=1
    say "no Redis at $host:$port: running redis-server there (appendonly, maxmemory $REDIS_MAXMEMORY noeviction, data in ${CFG[DATA_DIR]}/redis)"
  else
    die 1 "Redis at $host:$port does not answer (REDIS_URL); start it or point REDIS_URL at a running Redis"
  fi
}

preflight_ports() {
  local name
  for name in PORT WORKER_HEALTH_PORT; do
    if port_open 127.0.0.1 "${CFG[$name]}"; then
      die 1 "port ${CFG[$name]} ($name) is already in use; stop what uses it or choose another $name"
    fi
  done
}

export_settings() {
  # Absolute paths: the processes must not depend on their working directory.
  export REDIS_URL=${CFG[REDIS_URL]} DATA_DIR=${CFG[DATA_DIR]} OUTPUT_ROOT=${CFG[OUTPUT_ROOT]} MOUNT_PATH=${CFG[MOUNT_PATH]}
  [ -z "${CFG[LOG_FILE]}" ] || export LOG_FILE=${CFG[LOG_FILE]}
  mkdir -p "${CFG[DATA_DIR]}" "${CFG[OUTPUT_ROOT]}" "${CFG[MOUNT_PATH]}"
}

write_conf() {
  local conf deadline stopwait maxbytes
  [ -f "$TEMPLATE" ] || die 1 "missing $TEMPLATE"
  deadline=${CFG[SHUTDOWN_DEADLINE_SECONDS]%.*}
  # The worker hard-exits 15 s after its deadline; supervisord must wait longer before SIGKILL.
  stopwait=$((${deadline:-0} + 25))
  maxbytes=$(supervisor_size "${CFG[LOG_MAX_SIZE]}")
  conf=$(<"$TEMPLATE")
  if [ "$WANT_REDIS" -eq 0 ]; then
    conf=$(printf '%s\n' "$conf" | sed '/^;@REDIS_BEGIN@$/,/^;@REDIS_END@$/d')
  fi
  # % would be read by supervisord as an expansion; quoted replacements are literal in bash 5.2.
  local k v
  for k in ROOT RUN_DIR LOG_DIR NODE TSX STOPWAITSECS LOG_MAXBYTES LOG_BACKUPS REDIS_SERVER REDIS_PORT REDIS_DIR REDIS_MAXMEMORY; do
    case $k in
      ROOT) v=$ROOT ;;
      RUN_DIR) v=$RUN_DIR ;;
      LOG_DIR) v=$LOG_DIR ;;
      NODE) v=$NODE ;;
      TSX) v=$TSX_LOADER ;;
      STOPWAITSECS) v=$stopwait ;;
      LOG_MAXBYTES) v=$maxbytes ;;
      LOG_BACKUPS) v=${CFG[LOG_MAX_FILES]} ;;
      REDIS_SERVER) v=$(command -v "$REDIS_SERVER" || printf '%s' "$REDIS_SERVER") ;;
      REDIS_PORT) v=${CFG[REDIS_PORT]} ;;
      REDIS_DIR) v=${CFG[DATA_DIR]}/redis ;;
      REDIS_MAXMEMORY) v=$REDIS_MAXMEMORY ;;
    esac
    v=${v//%/%%}
    conf=${conf//"@$k@"/"$v"}
  done
  printf '%s\n' "$conf" >"$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}

# Polls until api and worker answer /readyz; fails early when a process is FATAL (supervised)
# or has died (fallback).
wait_ready() {
  local mode=$1 t0 api worker name pid
  t0=$(date +%s)
  api="http://127.0.0.1:${CFG[PORT]}/readyz"
  worker="http://127.0.0.1:${CFG[WORKER_HEALTH_PORT]}/readyz"
  while :; do
    if [ "$mode" = supervised ] && ctl status 2>/dev/null | grep -q ' FATAL '; then
      ctl status >&2 || true
      say "a process could not start (FATAL): see the end of its log under $LOG_DIR"
      return 1
    fi
    if [ "$mode" = fallback ]; then
      while read -r name pid; do
        kill -0 "$pid" 2>/dev/null || {
          say "$name (pid $pid) exited; the end of $LOG_DIR/$name.log:"
          tail -n 20 "$LOG_DIR/$name.log" >&2 || true
          return 1
        }
      done <"$RUN_DIR/fallback.pids"
    fi
    if http_ok "$api" && http_ok "$worker"; then return 0; fi
    if [ $(($(date +%s) - t0)) -ge "$START_TIMEOUT" ]; then
      say "not healthy after ${START_TIMEOUT} s; what fails:"
      "$ROOT/bin/healthcheck" --service api --env-file "$STACK_ENV" >&2 || true
      "$ROOT/bin/healthcheck" --service worker --env-file "$STACK_ENV" >&2 || true
      return 1
    fi
    sleep 1
  done
}

print_ready() {
  say "ready: API http://127.0.0.1:${CFG[PORT]}/api/v1 · docs /api/docs · queues /admin/queues · worker health http://127.0.0.1:${CFG[WORKER_HEALTH_PORT]}/health"
  if [ "${1:-supervised}" = supervised ]; then
    say "logs: $LOG_DIR (api.log, worker.log, redis.log, supervisord.log, process-events.log; process_status.json) · stop: $0 stop · status: $0 status"
  else
    say "logs: $LOG_DIR (api.log, worker.log, redis.log; not rotated) · stop: $0 stop · status: $0 status"
  fi
}

start_prod() {
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  if supervisord_pid >/dev/null; then
    say "already running (supervisord pid $(supervisord_pid)); nothing started"
    ctl status || true
    return 0
  fi
  if [ -f "$RUN_DIR/fallback.pids" ]; then
    say "already running as plain background processes (no supervisord); '$0 stop' first"
    return 0
  fi
  load_config --write-env "$STACK_ENV"
  preflight_ports
  decide_redis
  export_settings
  [ "$WANT_REDIS" -eq 0 ] || mkdir -p "${CFG[DATA_DIR]}/redis"
  if ! command -v "$SUPERVISORD" >/dev/null; then
    say "WARNING: supervisord is not installed (Debian: apt-get install supervisor): starting plain background processes,"
    say "WARNING: which are NOT restarted when they crash and whose logs are NOT rotated. Do not run unattended like this."
    start_fallback
    return
  fi
  write_conf
  rm -f "$LOG_DIR/process_status.json"
  "$SUPERVISORD" -c "$CONF" || die 1 "supervisord did not start (see $LOG_DIR/supervisord.log)"
  local i
  for i in $(seq 1 100); do
    supervisord_pid >/dev/null && break
    [ "$i" -lt 100 ] || die 1 "supervisord did not start (see $LOG_DIR/supervisord.log)"
    sleep 0.1
  done
  say "supervisord running (pid $(supervisord_pid), config $CONF); waiting until healthy (up to ${START_TIMEOUT} s)"
  if ! wait_ready supervised; then
    say "the stack is left running under supervisord for inspection: '$0 status', logs in $LOG_DIR, '$0 stop' to stop"
    return 1
  fi
  ctl status || true
  print_ready
}

# Plain background processes, each in its own session (survives the terminal); pids recorded.
launch() {
  local name=$1
  shift
  # Not a process-group leader here, so setsid execs in place and $! is the process itself.
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  printf '%s %s\n' "$name" "$!" >>"$RUN_DIR/fallback.pids"
  say "started $name (pid $!)"
}

start_fallback() {
  : >"$RUN_DIR/fallback.pids"
  if [ "$WANT_REDIS" -eq 1 ]; then
    launch redis "$REDIS_SERVER" --port "${CFG[REDIS_PORT]}" --bind 127.0.0.1 --dir "${CFG[DATA_DIR]}/redis" --appendonly yes --appendfsync everysec --save '' --maxmemory "$REDIS_MAXMEMORY" --maxmemory-policy noeviction
    for _ in $(seq 1 50); do port_open 127.0.0.1 "${CFG[REDIS_PORT]}" && break; sleep 0.2; done
  fi
  launch api "$NODE" --import "$TSX_LOADER" "$ROOT/services/api/src/main.ts"
  launch worker "$NODE" --import "$TSX_LOADER" "$ROOT/services/worker/src/main.ts"
  if ! wait_ready fallback; then
    say "not healthy; what is still running is left for inspection: '$0 stop' to stop"
    return 1
  fi
  print_ready fallback
}

# TERM, wait until they are gone or the deadline passes, then KILL what is left.
term_wait_kill() {
  local deadline=$1 p left
  shift
  [ "$#" -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  while :; do
    left=()
    for p in "$@"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    [ "${#left[@]}" -gt 0 ] || return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "still running after the deadline, killing: ${left[*]}"
      kill -KILL "${left[@]}" 2>/dev/null || true
      return 0
    fi
    sleep 0.3
  done
}

stop_fallback() {
  local name pid apps=() redis=() grace
  while read -r name pid; do
    kill -0 "$pid" 2>/dev/null || continue
    if [ "$name" = redis ]; then redis+=("$pid"); else apps+=("$pid"); fi
  done <"$RUN_DIR/fallback.pids"
  grace=$(sed -n "s/^SHUTDOWN_DEADLINE_SECONDS='\([0-9]*\).*/\1/p" "$STACK_ENV" 2>/dev/null || true)
  # api and worker first (the worker hands unfinished jobs back through Redis), then Redis.
  say "stopping api and worker (${apps[*]:-none}), then redis (${redis[*]:-none})"
  term_wait_kill $(($(date +%s) + ${grace:-30} + 20)) "${apps[@]}"
  term_wait_kill $(($(date +%s) + 30)) "${redis[@]}"
  rm -f "$RUN_DIR/fallback.pids"
}

stop_all() {
  local svpid pids=() p left=()
  if [ -f "$RUN_DIR/fallback.pids" ]; then
    stop_fallback
    say "stopped"
    return 0
  fi
  if ! svpid=$(supervisord_pid); then
    say "not running"
    rm -f "$PIDFILE"
    return 0
  fi
  mapfile -t pids < <(descendants "$svpid")
  say "stopping (supervisord pid $svpid): worker and api first (jobs are finished or handed back), then Redis"
  ctl shutdown >/dev/null || kill -TERM "$svpid"
  # supervisord waits up to stopwaitsecs per process, then SIGKILLs the group.
  local t0
  t0=$(date +%s)
  while kill -0 "$svpid" 2>/dev/null; do
    if [ $(($(date +%s) - t0)) -gt 300 ]; then
      say "supervisord still running after 300 s: killing it"
      kill -KILL "$svpid" 2>/dev/null || true
      break
    fi
    sleep 0.3
  done
  # Anything supervisord started that is still here (it should not be) is ended now.
  for _ in $(seq 1 20); do
    left=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
    [ "${#left[@]}" -gt 0 ] || break
    sleep 0.25
  done
  if [ "${#left[@]}" -gt 0 ]; then
    say "processes left behind, killing: ${left[*]}"
    kill -KILL "${left[@]}" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

show_status() {
  local rc=0
  if [ -f "$RUN_DIR/fallback.pids" ]; then
    say "plain background processes (no supervisord: no restarts):"
    local name pid
    while read -r name pid; do
      if kill -0 "$pid" 2>/dev/null; then printf '%-8s RUNNING  pid %s\n' "$name" "$pid"; else printf '%-8s DEAD     (pid %s)\n' "$name" "$pid"; rc=3; fi
    done <"$RUN_DIR/fallback.pids"
  elif supervisord_pid >/dev/null; then
    ctl status || rc=3
    if [ -f "$LOG_DIR/process_status.json" ]; then
      # shellcheck disable=SC2016 # JavaScript template literals, not shell expansions
      "$NODE" -e '
        const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        for (const [n, p] of Object.entries(d.processes)) {
          const e = p.last_exit;
          console.log(`${n.padEnd(16)} restarts ${p.restarts}${e ? `, last exit ${e.at} pid ${e.pid}: ${e.reason ?? (e.expected ? "expected" : "unexpected")}` : ""}`);
        }' "$LOG_DIR/process_status.json" || true
    fi
  else
    say "not running"
    return 3
  fi
  local s
  for s in api worker; do
    if [ -f "$STACK_ENV" ]; then
      "$ROOT/bin/healthcheck" --service "$s" --env-file "$STACK_ENV" --log-dir "$LOG_DIR" || rc=1
    else
      "$ROOT/bin/healthcheck" --service "$s" --log-dir "$LOG_DIR" || rc=1
    fi
  done
  return "$rc"
}

start_dev() {
  load_config
  decide_redis
  export_settings
  mkdir -p "$LOG_DIR"
  # shellcheck disable=SC2317 # called through the trap
  cleanup() {
    trap - INT TERM EXIT
    say "stopping"
    [ "${#DEV_PIDS[@]}" -eq 0 ] || kill -TERM "${DEV_PIDS[@]}" 2>/dev/null || true
    wait || true
  }
  trap cleanup INT TERM EXIT
  if [ "$WANT_REDIS" -eq 1 ]; then
    mkdir -p "${CFG[DATA_DIR]}/redis"
    "$REDIS_SERVER" --port "${CFG[REDIS_PORT]}" --bind 127.0.0.1 --dir "${CFG[DATA_DIR]}/redis" --appendonly yes --save '' --maxmemory "$REDIS_MAXMEMORY" --maxmemory-policy noeviction >>"$LOG_DIR/redis.log" 2>&1 &
    DEV_PIDS+=("$!")
  fi
  local tsx=$ROOT/node_modules/.bin/tsx
  cd "$ROOT"
  say "dev mode: api and worker restart when their sources change (tsx watch); Ctrl-C stops"
  "$tsx" watch --clear-screen=false services/api/src/main.ts &
  DEV_PIDS+=("$!")
  "$tsx" watch --clear-screen=false services/worker/src/main.ts &
  DEV_PIDS+=("$!")
  wait
}

case "${1:-prod}" in
  prod | start) start_prod ;;
  dev) start_dev ;;
  stop) stop_all ;;
  restart)
    stop_all
    start_prod
    ;;
  status) show_status ;;
  logs)
    mkdir -p "$LOG_DIR"
    exec tail -n 50 -F "$LOG_DIR/api.log" "$LOG_DIR/worker.log" "$LOG_DIR/process-events.log"
    ;;
  -h | --help | help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die 64 "unknown command '$1' (prod, dev, stop, status, restart, logs)" ;;
esac
