#!/usr/bin/env bash
# Online backup of the report store (the service may keep running):
#   SQLite      a consistent snapshot with `VACUUM INTO` (sqlite3 CLI) or, without the CLI,
#               better-sqlite3's backup() API; never a copy of the live file (a WAL database
#               copied mid-write is torn). The snapshot must pass PRAGMA integrity_check.
#   PostgreSQL  pg_dump --format=custom of DATABASE_URL, checked with pg_restore --list.
# plus the .env in use (it holds API keys and secrets: the archive is mode 600) and a listing of
# OUTPUT_ROOT (repaired files are large and can be made again: each repair's record keeps its
# ffmpeg arguments). Not included: media, caches (rebuilt on demand) and Redis (the API
# re-queues every unfinished job from the database).
#
# The archive, DEST/sync-analyzer-<UTC time>.tar.gz with a .sha256 beside it, holds one folder
# with manifest.json (what, when, row counts, migrations, file checksums) and SHA256SUMS.
#
# usage: scripts/backup.sh [--dest DIR] [--keep N] [--env-file FILE] [--no-env]
#   --dest DIR      where archives go (default $SA_BACKUP_DIR, else <repo>/backups)
#   --keep N        after a successful backup, delete all but the N newest archives in DIR
#   --env-file F    the service's settings file (default ./.env of the repository)
#   --no-env        leave the settings file out of the archive
# Prints the archive's path on stdout. SQLITE3=... picks the sqlite3 binary.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
SQLITE3=${SQLITE3:-sqlite3}
say() { printf '[backup] %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}
usage() {
  sed -n '/^# usage:/,/^# Prints/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-64}"
}

dest=${SA_BACKUP_DIR:-$ROOT/backups}
keep=
env_file=
with_env=1
while [ "$#" -gt 0 ]; do
  case "$1" in
    --dest) dest=${2:?--dest needs a directory}; shift 2 ;;
    --keep) keep=${2:?--keep needs a number}; shift 2 ;;
    --env-file) env_file=${2:?--env-file needs a file}; shift 2 ;;
    --no-env) with_env=0; shift ;;
    -h | --help) usage 0 ;;
    *) say "unknown argument '$1'"; usage ;;
  esac
done
if [ -n "$keep" ] && ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then die "--keep needs a whole number >= 1, got '$keep'"; fi
[ -z "$env_file" ] || env_file=$(realpath "$env_file")
dest=$(realpath -m "$dest")

cd "$ROOT"
NODE=$(command -v node) || die "node is not installed"
declare -A CFG=()
cfg_out=$("$NODE" --import "$ROOT/node_modules/tsx/dist/loader.mjs" "$ROOT/services/ops/src/stack-config.ts" ${env_file:+--env-file "$env_file"}) || die "the service's configuration is not valid (see above)"
while IFS=$'\t' read -r k v; do [ -n "$k" ] && CFG[$k]=$v; done <<<"$cfg_out"

mkdir -p "$dest"
chmod 700 "$dest" 2>/dev/null || true
# One backup at a time per destination.
exec 9>"$dest/.backup.lock"
flock -n 9 || die "another backup into $dest is running"

created=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
stamp=${created//[-:]/}
name=sync-analyzer-$stamp
umask 077
work=$(mktemp -d "$dest/.work-XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg=$work/$name
mkdir -p "$pkg/db"

# SQL string literal (single quotes doubled).
sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

sqlite_query() { # file sql: one result per line (sqlite3 CLI, else better-sqlite3)
  if command -v "$SQLITE3" >/dev/null; then
    "$SQLITE3" -bail -readonly "$1" "$2"
  else
    "$NODE" -e '
      const D = require("better-sqlite3");
      const db = new D(process.argv[1], { readonly: true, fileMustExist: true });
      for (const r of db.prepare(process.argv[2]).raw().all()) console.log(r.join("|"));' "$1" "$2"
  fi
}

db_client=${CFG[DB_CLIENT]}
rows_json='{}'
migrations_json='[]'
if [ "$db_client" = sqlite ]; then
  src=${CFG[SQLITE_FILE]}
  [ -f "$src" ] || die "no SQLite database at $src (DATA_DIR=${CFG[DATA_DIR]})"
  snap=$pkg/db/sync-analyzer.sqlite
  if command -v "$SQLITE3" >/dev/null; then
    say "snapshot of $src (sqlite3 VACUUM INTO: one consistent read transaction; writers keep going)"
    "$SQLITE3" -bail "$src" ".timeout 30000" "VACUUM INTO $(sql_quote "$snap")"
  else
    say "snapshot of $src (sqlite3 CLI not found: better-sqlite3 backup API)"
    "$NODE" -e '
      const D = require("better-sqlite3");
      const db = new D(process.argv[1], { fileMustExist: true });
      db.pragma("busy_timeout = 30000");
      db.backup(process.argv[2]).then(() => db.close(), (e) => { console.error(e.message); process.exit(1); });' "$src" "$snap"
  fi
  check=$(sqlite_query "$snap" 'PRAGMA integrity_check')
  [ "$check" = ok ] || die "the snapshot failed PRAGMA integrity_check: $check"
  counts=()
  for t in analyses batches repairs; do counts+=("\"$t\":$(sqlite_query "$snap" "SELECT count(*) FROM $t")"); done
  rows_json="{$(IFS=,; echo "${counts[*]}")}"
  migrations_json=$(sqlite_query "$snap" 'SELECT name FROM knex_migrations ORDER BY id' | "$NODE" -e 'console.log(JSON.stringify(require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean)))')
else
  command -v pg_dump >/dev/null || die "pg_dump is not installed (Debian: apt-get install postgresql-client)"
  say "pg_dump of the PostgreSQL database (custom format, consistent snapshot)"
  pg_dump --format=custom --no-owner --no-privileges --file "$pkg/db/postgres.dump" --dbname "${CFG[DATABASE_URL]}"
  pg_restore --list "$pkg/db/postgres.dump" >/dev/null || die "pg_restore cannot read the dump just written"
  if command -v psql >/dev/null; then
    counts=()
    for t in analyses batches repairs; do counts+=("\"$t\":$(psql --no-psqlrc -tAq --dbname "${CFG[DATABASE_URL]}" -c "SELECT count(*) FROM $t")"); done
    rows_json="{$(IFS=,; echo "${counts[*]}")}"
    migrations_json=$(psql --no-psqlrc -tAq --dbname "${CFG[DATABASE_URL]}" -c 'SELECT name FROM knex_migrations ORDER BY id' | "$NODE" -e 'console.log(JSON.stringify(require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean)))')
  fi
fi

if [ "$with_env" -eq 1 ] && [ -n "${CFG[ENV_FILE]}" ] && [ -f "${CFG[ENV_FILE]}" ]; then
  mkdir -p "$pkg/env"
  cp "${CFG[ENV_FILE]}" "$pkg/env/.env"
fi

if [ -d "${CFG[OUTPUT_ROOT]}" ]; then
  # path, bytes, modification time of every file under OUTPUT_ROOT
  find "${CFG[OUTPUT_ROOT]}" -type f -printf '%P\t%s\t%TY-%Tm-%TdT%TH:%TM:%TSZ\n' | sort >"$pkg/output-listing.tsv"
fi

# manifest.json: what is inside and how to check it.
(cd "$pkg" && find . -type f -printf '%P\n' | sort | while read -r f; do printf '%s\t%s\t%s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"; done) >"$work/files.tsv"
MANIFEST_ROWS=$rows_json MANIFEST_MIGRATIONS=$migrations_json MANIFEST_CLIENT=$db_client \
  MANIFEST_CREATED=$created MANIFEST_NAME=$name MANIFEST_ROOT=$ROOT \
  MANIFEST_DATA_DIR=${CFG[DATA_DIR]} MANIFEST_OUTPUT_ROOT=${CFG[OUTPUT_ROOT]} MANIFEST_ENV_FILE=${CFG[ENV_FILE]} \
  MANIFEST_COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || true) \
  "$NODE" -e '
    const fs = require("fs");
    const e = process.env;
    const files = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => {
      const [path, bytes, sha256] = l.split("\t");
      return { path, bytes: Number(bytes), sha256 };
    });
    const pkg = JSON.parse(fs.readFileSync(e.MANIFEST_ROOT + "/package.json", "utf8"));
    const manifest = {
      format: 1,
      name: e.MANIFEST_NAME,
      created_at: e.MANIFEST_CREATED,
      host: require("os").hostname(),
      app: { name: pkg.name, version: pkg.version, commit: e.MANIFEST_COMMIT || null },
      database: {
        client: e.MANIFEST_CLIENT,
        file: e.MANIFEST_CLIENT === "sqlite" ? "db/sync-analyzer.sqlite" : "db/postgres.dump",
        rows: JSON.parse(e.MANIFEST_ROWS),
        migrations: JSON.parse(e.MANIFEST_MIGRATIONS),
      },
      source: { data_dir: e.MANIFEST_DATA_DIR, output_root: e.MANIFEST_OUTPUT_ROOT, env_file: e.MANIFEST_ENV_FILE || null },
      files,
    };
    fs.writeFileSync(process.argv[2], JSON.stringify(manifest, null, 2) + "\n");' "$work/files.tsv" "$pkg/manifest.json"
(cd "$pkg" && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort | xargs -d '\n' sha256sum) >"$pkg/SHA256SUMS"

tar -C "$work" -czf "$work/$name.tar.gz" "$name"
(cd "$work" && sha256sum "$name.tar.gz") >"$work/$name.tar.gz.sha256"
# Archive first, then its checksum: a listing never shows a checksum without its archive.
mv "$work/$name.tar.gz" "$dest/$name.tar.gz"
mv "$work/$name.tar.gz.sha256" "$dest/$name.tar.gz.sha256"
say "wrote $dest/$name.tar.gz ($(stat -c %s "$dest/$name.tar.gz") bytes; rows $rows_json)"

if [ -n "$keep" ]; then
  mapfile -t all < <(find "$dest" -maxdepth 1 -type f -name 'sync-analyzer-*.tar.gz' -printf '%f\n' | sort)
  excess=$((${#all[@]} - keep))
  for ((i = 0; i < excess; i++)); do
    say "retention (--keep $keep): removing ${all[$i]}"
    rm -f "$dest/${all[$i]}" "$dest/${all[$i]}.sha256"
  done
fi
printf '%s\n' "$dest/$name.tar.gz"
