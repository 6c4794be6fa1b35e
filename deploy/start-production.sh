#!/usr/bin/env bash
# Starts (or updates) the production stack with Docker Compose and waits until every service is
# healthy. Idempotent: run it again after an upgrade or a config change.
#
#   deploy/start-production.sh [--cpu | --gpu] [--no-build] [--pull] [--timeout SECONDS]
#
#   --cpu / --gpu   force the worker flavour (default: GPU when Docker can hand out an NVIDIA
#                   GPU, else CPU with a warning)
#   --no-build      use the images already built (the systemd unit starts with this)
#   --pull          refresh the base images while building
#   --timeout S     how long to wait for every service to be healthy (default 300)
#
# Preflight: docker and its daemon, Compose v2 (>= 2.20: the CPU override uses `!reset`), the
# NVIDIA runtime, .env present and valid (the service's own config loader), the media root,
# free disk. Exit 0 when every service is healthy; non-zero with the reason otherwise.
#
# Environment: DOCKER (docker CLI, default `docker`), START_POLL_SECONDS (health poll interval,
# default 5), START_MIN_DOCKER_FREE_MB (free space needed under Docker's root, default 10240
# when building, else 1024).
set -euo pipefail

readonly MIN_COMPOSE_VERSION=2.20.0
# Must match the worker's stop_grace_period in docker-compose.production.yml (checked by
# deploy/stack.test.ts): .env's SHUTDOWN_DEADLINE_SECONDS has to fit inside it.
readonly WORKER_STOP_GRACE_SECONDS=60

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKER=${DOCKER:-docker}
POLL=${START_POLL_SECONDS:-5}

say() { printf 'start-production: %s\n' "$*"; }
warn() { printf 'start-production: WARNING: %s\n' "$*" >&2; }
die() { printf 'start-production: ERROR: %s\n' "$*" >&2; exit 1; }

mode=auto build=1 pull=0 timeout=300
while [ "$#" -gt 0 ]; do
  case "$1" in
    --cpu) mode=cpu ;;
    --gpu) mode=gpu ;;
    --no-build) build=0 ;;
    --pull) pull=1 ;;
    --timeout)
      [ "$#" -ge 2 ] || die "--timeout needs a number of seconds"
      timeout=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be a whole number of seconds, got '$timeout'"

# Value of KEY in .env (last assignment wins, as in Compose), without surrounding quotes; the
# file is read, never sourced, so nothing in it is executed.
env_get() {
  local key=$1 default=$2 line value
  line=$(grep -E "^[[:space:]]*(export[[:space:]]+)?${key}=" "$ROOT/.env" | tail -n 1 || true)
  value=${line#*=}
  value=${value%$'\r'}
  value=${value#\"}; value=${value%\"}
  value=${value#\'}; value=${value%\'}
  if [ -z "$value" ]; then printf '%s' "$default"; else printf '%s' "$value"; fi
}

# Host paths in .env are relative to the project directory, as Compose resolves them.
host_path() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$ROOT" "${1#./}" ;; esac; }

free_mb() { df -Pk "$1" | awk 'NR == 2 { printf "%d", $4 / 1024 }'; }

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

# --- docker, daemon, compose v2 -----------------------------------------------------------
command -v "$DOCKER" >/dev/null 2>&1 || die "docker not found (install Docker Engine: https://docs.docker.com/engine/install/)"
"$DOCKER" info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is it running, and may this user use it?)"
compose_version=$("$DOCKER" compose version --short 2>/dev/null) \
  || die "Docker Compose v2 not found: '$DOCKER compose' failed (install the docker-compose-plugin package; the v1 'docker-compose' is not supported)"
compose_version=${compose_version#v}
version_ge "$compose_version" "$MIN_COMPOSE_VERSION" \
  || die "Docker Compose $compose_version is too old: $MIN_COMPOSE_VERSION or newer is needed"

# --- GPU or CPU ---------------------------------------------------------------------------
# A GPU worker needs a GPU the driver sees (nvidia-smi) and Docker's NVIDIA integration (the
# nvidia runtime, or the container toolkit's hook that backs device requests).
gpu_problem=""
if ! command -v nvidia-smi >/dev/null 2>&1; then
  gpu_problem="nvidia-smi not found (no NVIDIA driver on this host)"
elif ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  gpu_problem="nvidia-smi lists no GPU"
elif ! "$DOCKER" info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"nvidia"' \
  && ! command -v nvidia-container-runtime-hook >/dev/null 2>&1; then
  gpu_problem="Docker has no NVIDIA runtime (install nvidia-container-toolkit, then: nvidia-ctk runtime configure --runtime=docker)"
fi
case "$mode" in
  gpu) [ -z "$gpu_problem" ] || die "--gpu: $gpu_problem" ;;
  cpu) ;;
  auto)
    if [ -z "$gpu_problem" ]; then mode=gpu; else
      mode=cpu
      warn "$gpu_problem: starting the CPU-only worker (docker-compose.cpu.yml)"
    fi ;;
esac
files=(-f "$ROOT/docker-compose.production.yml")
[ "$mode" = cpu ] && files+=(-f "$ROOT/docker-compose.cpu.yml")
for f in docker-compose.production.yml docker-compose.cpu.yml; do
  [ -f "$ROOT/$f" ] || die "$ROOT/$f is missing"
done
compose() { "$DOCKER" compose "${files[@]}" "$@"; }
say "worker flavour: $mode"

# --- .env ---------------------------------------------------------------------------------
[ -f "$ROOT/.env" ] || die "$ROOT/.env not found: copy .env.example to .env and review it (every variable is documented there)"
# The service's own loader validates it; on a host without Node and the dependencies the same
# check runs inside the api image once it is built.
env_checked=0
if command -v node >/dev/null 2>&1 && [ -d "$ROOT/node_modules/tsx" ]; then
  (cd "$ROOT" && node --import tsx deploy/check-env.ts --env-file "$ROOT/.env" --stop-grace-seconds "$WORKER_STOP_GRACE_SECONDS" >/dev/null) \
    || die ".env is not valid (see above)"
  env_checked=1
fi

# --- media root, output root, disk --------------------------------------------------------
media=$(host_path "$(env_get MOUNT_PATH ./media)")
output=$(host_path "$(env_get OUTPUT_ROOT ./output)")
[ -d "$media" ] || die "media root $media (MOUNT_PATH in .env) does not exist or is not a directory"
if [ ! -d "$output" ]; then
  mkdir -p "$output" || die "cannot create the output root $output (OUTPUT_ROOT in .env)"
  say "created the output root $output"
fi
# The containers run as uid 10001: repairs are written there.
perm=$(stat -c %a "$output")
if [ "$(stat -c %u "$output")" != 10001 ] && [ $(( ${perm: -1} & 2 )) = 0 ]; then
  warn "the output root $output is not writable by the containers' user (uid 10001): chown 10001 '$output'"
fi
min_free=$(env_get DISK_MIN_FREE_MB 1024)
[[ "$min_free" =~ ^[0-9]+$ ]] || min_free=1024
have=$(free_mb "$output")
[ "$have" -ge "$min_free" ] || die "only $have MB free on the output root $output (at least $min_free MB, DISK_MIN_FREE_MB)"
docker_root=$("$DOCKER" info --format '{{.DockerRootDir}}' 2>/dev/null || true)
if [ -n "$docker_root" ] && [ -d "$docker_root" ]; then
  need=${START_MIN_DOCKER_FREE_MB:-$([ "$build" = 1 ] && echo 10240 || echo 1024)}
  have=$(free_mb "$docker_root")
  [ "$have" -ge "$need" ] || die "only $have MB free under Docker's root $docker_root (at least $need MB for images, volumes and logs)"
fi

# --- build, validate, start ---------------------------------------------------------------
if [ "$build" = 1 ]; then
  say "building images"
  if [ "$pull" = 1 ]; then compose build --pull; else compose build; fi \
    || die "image build failed"
else
  say "using the images already built (--no-build)"
fi
if [ "$env_checked" = 0 ]; then
  compose run --rm --no-deps -T api node --import tsx deploy/check-env.ts --stop-grace-seconds "$WORKER_STOP_GRACE_SECONDS" \
    || die ".env is not valid (checked inside the api image, see above)"
fi
say "starting the stack"
compose up -d --remove-orphans || die "docker compose up failed"

# --- wait until healthy -------------------------------------------------------------------
mapfile -t services < <(compose config --services)
[ "${#services[@]}" -gt 0 ] || die "docker compose config lists no service"
declare -A state
deadline=$((SECONDS + timeout))
while :; do
  pending=()
  for svc in "${services[@]}"; do
    # -a: an exited or restarting container must be seen, not waited for.
    cid=$(compose ps -a -q "$svc" 2>/dev/null | head -n 1 || true)
    if [ -z "$cid" ]; then state[$svc]="missing -"; pending+=("$svc"); continue; fi
    st=$("$DOCKER" inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}' "$cid" 2>/dev/null || echo "unknown -")
    state[$svc]=$st
    case "$st" in
      "running healthy"|"running -") ;;
      "running unhealthy"|exited*|dead*|restarting*)
        compose logs --tail 30 "$svc" >&2 || true
        die "service $svc is not healthy ($st); its last log lines are above" ;;
      *) pending+=("$svc") ;;
    esac
  done
  [ "${#pending[@]}" -eq 0 ] && break
  [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for: ${pending[*]} (state: $(for s in "${pending[@]}"; do printf '%s=%s ' "$s" "${state[$s]// /\/}"; done))"
  sleep "$POLL"
done

# --- report -------------------------------------------------------------------------------
printf '\n%-10s %-10s %s\n' SERVICE STATE HEALTH
for svc in "${services[@]}"; do
  read -r st health <<<"${state[$svc]}"
  printf '%-10s %-10s %s\n' "$svc" "$st" "$health"
done
file_args=${files[*]}
file_args=${file_args//"$ROOT"\//}
cat <<EOF

Sync Analyzer is up ($mode worker): http://localhost:$(env_get PORT 8080)/
Commands, from $ROOT:
  status:  docker compose $file_args ps
  logs:    docker compose $file_args logs -f [api|worker|redis]
  files:   /logs/api.log and /logs/worker.log in the app-logs volume (rotated)
  health:  docker compose $file_args exec api healthcheck
EOF
