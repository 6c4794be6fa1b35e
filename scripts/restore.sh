#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh into the database the current settings point at.
# Everything is verified BEFORE anything is replaced: the archive's .sha256 (when beside it),
# every file against SHA256SUMS, PRAGMA integrity_check on the SQLite snapshot or pg_restore
# --list on the PostgreSQL dump, and that the archive's database kind matches the settings.
# Refuses while the service is running (a process has the SQLite file open, the API or worker
# port answers, or start_all.sh's supervisord runs) unless --force. What is replaced is kept in
# DATA_DIR/pre-restore-<UTC time>/ (the SQLite files, or a pg_dump of the database as it was).
#
# usage: scripts/restore.sh ARCHIVE [--force] [--env] [--env-file FILE] [--verify-only]
#   --force        restore even though the service seems to be running (restart it afterwards)
#   --env          also restore the archived .env over the current one (kept aside too)
#   --env-file F   the service's settings file (default ./.env of the repository)
#   --verify-only  check the archive and stop
# After a restore, start the service: the API re-queues every unfinished job it finds in the
# database (Redis is not part of a backup). SQLITE3=... picks the sqlite3 binary.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
SQLITE3=${SQLITE3:-sqlite3}
say() { printf '[restore] %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}
refuse() {
  say "REFUSED: $*"
  say "nothing was replaced"
  exit 2
}
usage() {
  sed -n '/^# usage:/,/^# database/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-64}"
}

archive=
force=0
restore_env=0
env_file=
verify_only=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --force) force=1; shift ;;
    --env) restore_env=1; shift ;;
    --env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
    --verify-only) verify_only=1; shift ;;
    -h | --help) usage 0 ;;
    -*) say "unknown argument '$1'"; usage ;;
    *)
      [ -z "$archive" ] || { say "one archive at a time"; usage; }
      archive=$1
      shift
      ;;
  esac
done
[ -n "$archive" ] || usage
[ -f "$archive" ] || die "no such archive: $archive"
archive=$(realpath "$archive")
[ -z "$env_file" ] || env_file=$(realpath -m "$env_file")

cd "$ROOT"
NODE=$(command -v node) || die "node is not installed"
declare -A CFG=()
cfg_out=$("$NODE" --import "$ROOT/node_modules/tsx/dist/loader.mjs" "$ROOT/services/ops/src/stack-config.ts" ${env_file:+--env-file "$env_file"}) || die "the service's configuration is not valid (see above)"
while IFS=$'\t' read -r k v; do [ -n "$k" ] && CFG[$k]=$v; done <<<"$cfg_out"

sqlite_query() { # file sql (sqlite3 CLI, else better-sqlite3)
  if command -v "$SQLITE3" >/dev/null; then
    "$SQLITE3" -bail -readonly "$1" "$2"
  else
    "$NODE" -e '
      const D = require("better-sqlite3");
      const db = new D(process.argv[1], { readonly: true, fileMustExist: true });
      for (const r of db.prepare(process.argv[2]).raw().all()) console.log(r.join("|"));' "$1" "$2"
  fi
}

# ---------------------------------------------------------------- verify (nothing touched yet)
if [ -f "$archive.sha256" ]; then
  (cd "$(dirname "$archive")" && sha256sum --check --status "$(basename "$archive").sha256") || refuse "$archive does not match its checksum file $archive.sha256 (damaged or altered)"
  say "archive checksum ok"
else
  say "no $archive.sha256 beside the archive: relying on the checksums inside it"
fi
mkdir -p "${CFG[DATA_DIR]}"
stage=$(mktemp -d "${CFG[DATA_DIR]}/.restore-XXXXXX")
trap 'rm -rf "$stage"' EXIT
tar -xzf "$archive" -C "$stage" --no-same-owner --no-same-permissions 2>"$stage/tar.err" || refuse "cannot unpack $archive: $(head -c 300 "$stage/tar.err")"
rm -f "$stage/tar.err"
mapfile -t tops < <(find "$stage" -mindepth 1 -maxdepth 1 -printf '%f\n')
if [ "${#tops[@]}" -ne 1 ] || [[ "${tops[0]}" != sync-analyzer-* ]]; then refuse "$archive is not a sync-analyzer backup (expected one folder sync-analyzer-*)"; fi
pkg=$stage/${tops[0]}
if [ ! -f "$pkg/SHA256SUMS" ] || [ ! -f "$pkg/manifest.json" ]; then refuse "$archive has no SHA256SUMS or manifest.json"; fi
(cd "$pkg" && sha256sum --check --strict --quiet SHA256SUMS) >&2 || refuse "files in $archive do not match SHA256SUMS (damaged or altered)"
# Every file must be covered: nothing unchecked slips in.
listed=$(cut -d' ' -f3- "$pkg/SHA256SUMS" | sed 's#^\*##' | sort)
present=$(cd "$pkg" && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort)
[ "$listed" = "$present" ] || refuse "$archive holds files not listed in SHA256SUMS"
say "file checksums ok"

client=$("$NODE" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).database.client)' "$pkg/manifest.json")
[ "$client" = "${CFG[DB_CLIENT]}" ] || refuse "the archive holds a $client database but the settings use ${CFG[DB_CLIENT]} (DATABASE_URL); restore into the same kind"
if [ "$client" = sqlite ]; then
  snap=$pkg/db/sync-analyzer.sqlite
  [ -f "$snap" ] || refuse "no db/sync-analyzer.sqlite in $archive"
  check=$(sqlite_query "$snap" 'PRAGMA integrity_check' 2>&1) || check="cannot open: $check"
  [ "$check" = ok ] || refuse "the database in $archive fails PRAGMA integrity_check: $(printf '%s' "$check" | head -c 300)"
  rows=$(sqlite_query "$snap" 'SELECT count(*) FROM analyses') || refuse "the database in $archive has no analyses table"
  say "SQLite snapshot ok (integrity_check ok, $rows analyses)"
else
  dump=$pkg/db/postgres.dump
  [ -f "$dump" ] || refuse "no db/postgres.dump in $archive"
  command -v pg_restore >/dev/null || die "pg_restore is not installed (Debian: apt-get install postgresql-client)"
  pg_restore --list "$dump" >/dev/null 2>&1 || refuse "pg_restore cannot read the dump in $archive"
  say "PostgreSQL dump ok (pg_restore --list)"
fi
if [ "$verify_only" -eq 1 ]; then
  say "archive verified: $archive"
  exit 0
fi

# ---------------------------------------------------------------- is the service running?
# shellcheck disable=SC2016 # $1 expands in the inner bash, which gets it as an argument
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }
running=()
if [ "$client" = sqlite ]; then
  # /proc shows resolved paths.
  target=$(realpath -m "${CFG[SQLITE_FILE]}")
  # Every open file of every process we may look at, in one pass: "/proc/PID/fd<TAB>target".
  while IFS=$'\t' read -r fddir link; do
    case "$link" in
      "$target" | "$target-wal" | "$target-shm")
        pid=${fddir#/proc/}
        running+=("process ${pid%%/*} has $link open")
        ;;
    esac
  done < <(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -type l -printf '%h\t%l\n' 2>/dev/null || true)
fi
for p in PORT WORKER_HEALTH_PORT; do
  if port_open "${CFG[$p]}"; then running+=("something answers on port ${CFG[$p]} ($p)"); fi
done
svpid_file=${SA_RUN_DIR:-$ROOT}/run/supervisord.pid
if [ -f "$svpid_file" ] && kill -0 "$(cat "$svpid_file")" 2>/dev/null; then running+=("start_all.sh's supervisord runs (pid $(cat "$svpid_file"))"); fi
if [ "${#running[@]}" -gt 0 ]; then
  mapfile -t running < <(printf '%s\n' "${running[@]}" | sort -u)
  if [ "$force" -eq 0 ]; then
    for r in "${running[@]}"; do say "running: $r"; done
    refuse "the service seems to be running: stop it first (./start_all.sh stop, docker compose stop api worker, systemctl stop sync-analyzer sync-analyzer-worker), or pass --force"
  fi
  say "--force: restoring although: ${running[*]}"
fi

# ---------------------------------------------------------------- replace, keeping the old aside
aside=${CFG[DATA_DIR]}/pre-restore-$(date -u +%Y%m%dT%H%M%S.%3NZ)
mkdir -p "$aside"
if [ "$client" = sqlite ]; then
  target=${CFG[SQLITE_FILE]}
  mkdir -p "$(dirname "$target")"
  # The restored file gets the owner and mode of the one it replaces (or of DATA_DIR), so a
  # restore run as root does not lock the service's user out of its database.
  if [ -e "$target" ]; then
    mode=$(stat -c %a "$target") owner=$(stat -c %u:%g "$target")
  else
    mode=640 owner=$(stat -c %u:%g "$(dirname "$target")")
  fi
  moved=0
  for f in "$target" "$target-wal" "$target-shm"; do
    if [ -e "$f" ]; then
      mv "$f" "$aside/"
      moved=1
    fi
  done
  # Copy beside the target, then rename: the database appears whole or not at all.
  cp "$snap" "$target.restoring"
  chmod "$mode" "$target.restoring"
  if [ "$(id -u)" -eq 0 ]; then chown "$owner" "$target.restoring"; fi
  mv "$target.restoring" "$target"
  if [ "$moved" -eq 1 ]; then say "restored $target (the previous files are in $aside)"; else say "restored $target (there was no database before)"; fi
else
  say "keeping the current database aside: pg_dump to $aside/postgres.dump"
  pg_dump --format=custom --no-owner --no-privileges --file "$aside/postgres.dump" --dbname "${CFG[DATABASE_URL]}" || die "could not dump the current database aside; nothing was replaced"
  pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname "${CFG[DATABASE_URL]}" "$dump" ||
    die "pg_restore failed; the transaction was rolled back, the database is as it was (also in $aside/postgres.dump)"
  say "restored the PostgreSQL database (the previous content is in $aside/postgres.dump)"
fi
if [ "$restore_env" -eq 1 ]; then
  if [ -f "$pkg/env/.env" ]; then
    env_target=${CFG[ENV_FILE]:-$ROOT/.env}
    if [ -f "$env_target" ]; then cp -p "$env_target" "$aside/.env"; fi
    cp "$pkg/env/.env" "$env_target.restoring"
    chmod 600 "$env_target.restoring"
    mv "$env_target.restoring" "$env_target"
    say "restored $env_target"
  else
    say "the archive holds no .env; settings left as they are"
  fi
fi
rmdir "$aside" 2>/dev/null || true
say "done; start the service (it re-queues unfinished jobs from the database)"
