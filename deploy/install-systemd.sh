#!/usr/bin/env bash
# Installs the systemd units, idempotently (a second run changes nothing and says so).
#
#   sudo deploy/install-systemd.sh [--compose] [--app-dir DIR] [--user NAME] [--no-start]
#
#   (default)       native mode: sync-analyzer.service (api) and sync-analyzer-worker.service,
#                   run by Node from the checkout at --app-dir as a dedicated system user
#                   (created when missing), with data/, output/ and logs/ owned by it
#   --compose       sync-analyzer-compose.service: the Docker Compose stack at boot
#   --app-dir DIR   the checkout (default: the one this script is in); native mode needs
#                   `npm ci --omit=dev` to have been run there
#   --user NAME     service user in native mode (default sync-analyzer)
#   --no-start      install and enable, start nothing
#
# Environment: DESTDIR (install under this root instead of /, for packaging and tests: unit
# files and state directories go below it, systemctl still runs), NODE_BIN (default: node on
# PATH), DOCKER_BIN (default: docker on PATH).
set -euo pipefail

say() { printf 'install-systemd: %s\n' "$*"; }
die() { printf 'install-systemd: ERROR: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=native app_dir=$(cd "$here/.." && pwd) user=sync-analyzer start=1
while [ "$#" -gt 0 ]; do
  case "$1" in
    --compose) mode=compose ;;
    --native) mode=native ;;
    --app-dir) [ "$#" -ge 2 ] || die "--app-dir needs a directory"; app_dir=$2; shift ;;
    --user) [ "$#" -ge 2 ] || die "--user needs a name"; user=$2; shift ;;
    --no-start) start=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || die "must be run as root, it writes to /etc/systemd/system and creates a system user (try: sudo $0 $*)"
command -v systemctl >/dev/null 2>&1 || die "systemctl not found: this host does not run systemd (see start_all.sh for supervisord)"
[[ "$user" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "--user: '$user' is not a valid user name"
[ -d "$app_dir" ] || die "--app-dir: $app_dir is not a directory"
app_dir=$(cd "$app_dir" && pwd)
unit_dir="${DESTDIR:-}/etc/systemd/system"

if [ "$mode" = native ]; then
  units=(sync-analyzer.service sync-analyzer-worker.service)
  node_bin=${NODE_BIN:-$(command -v node || true)}
  [[ -n "$node_bin" && -x "$node_bin" ]] || die "node not found (install Node.js 20 or newer, or set NODE_BIN)"
  node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
  [ "$node_major" -ge 20 ] || die "$node_bin is Node $node_major: Node 20 or newer is needed"
  [ -d "$app_dir/node_modules/tsx" ] || die "$app_dir/node_modules/tsx not found: run 'npm ci --omit=dev' in $app_dir first"
else
  units=(sync-analyzer-compose.service)
  docker_bin=${DOCKER_BIN:-$(command -v docker || true)}
  [[ -n "$docker_bin" && -x "$docker_bin" ]] || die "docker not found (install Docker Engine and the compose plugin, or set DOCKER_BIN)"
  [ -x "$app_dir/deploy/start-production.sh" ] || die "$app_dir/deploy/start-production.sh is missing or not executable"
fi

# --- the service user and its state directories (native mode) ------------------------------
if [ "$mode" = native ]; then
  if id -u "$user" >/dev/null 2>&1; then
    say "user $user exists"
  else
    useradd --system --user-group --home-dir "$app_dir" --no-create-home --shell /usr/sbin/nologin "$user" \
      || die "could not create the system user $user"
    say "created system user $user"
  fi
  for d in data output logs; do
    install -d -m 0750 "${DESTDIR:-}$app_dir/$d"
    chown "$user:$user" "${DESTDIR:-}$app_dir/$d" || die "could not chown ${DESTDIR:-}$app_dir/$d to $user"
  done
fi

# --- units: rendered for this host, written only when they change ---------------------------
render() {
  local src=$1
  sed -e "s|/opt/sync-analyzer|$app_dir|g" \
      -e "s|^User=sync-analyzer$|User=$user|" \
      -e "s|^Group=sync-analyzer$|Group=$user|" \
      -e "s|/usr/bin/node |${node_bin:-/usr/bin/node} |g" \
      -e "s|/usr/bin/docker|${docker_bin:-/usr/bin/docker}|g" \
      "$src"
}
mkdir -p "$unit_dir"
changed=0
for unit in "${units[@]}"; do
  [ -f "$here/$unit" ] || die "$here/$unit is missing"
  tmp=$(mktemp)
  render "$here/$unit" >"$tmp"
  if [ -f "$unit_dir/$unit" ] && cmp -s "$tmp" "$unit_dir/$unit"; then
    rm -f "$tmp"
    say "$unit_dir/$unit unchanged"
  else
    install -m 0644 "$tmp" "$unit_dir/$unit"
    rm -f "$tmp"
    changed=1
    say "installed $unit_dir/$unit"
  fi
done

# --- systemd ------------------------------------------------------------------------------
[ "$changed" = 0 ] || systemctl daemon-reload
systemctl enable "${units[@]}" >/dev/null
if [ "$start" = 0 ]; then
  say "enabled ${units[*]} (not started: --no-start)"
elif [ "$changed" = 1 ]; then
  # restart, not start: a unit that was running must pick up its new definition.
  systemctl restart "${units[@]}"
  say "enabled and (re)started ${units[*]}"
else
  systemctl start "${units[@]}"
  say "enabled ${units[*]}; already up to date"
fi
cat <<EOF
  status: systemctl status ${units[*]}
  logs:   journalctl -u ${units[0]} -f
EOF
