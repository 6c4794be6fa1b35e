// scripts/backup.sh and scripts/restore.sh, driven as an operator runs them: an online backup of a
// live SQLite database while another process keeps inserting (sqlite3 CLI and the better-sqlite3
// fallback), a restore into a fresh DATA_DIR read back with the app's openStore, refusals that
// leave everything in place (damaged archive, damaged database, service running), the old
// database kept aside, a PostgreSQL round trip, and retention.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../../../e2e/net.ts';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import knex from 'knex';
import { openStore, type NewAnalysis, type StoreDatabase } from '@sync-analyzer/platform';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BACKUP = path.join(ROOT, 'scripts', 'backup.sh');
const RESTORE = path.join(ROOT, 'scripts', 'restore.sh');
const TSX = fileURLToPath(import.meta.resolve('tsx'));
const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

let dir: string;
let ports: { PORT: string; WORKER_HEALTH_PORT: string };

/** Reads a SQLite file read-only through knex/better-sqlite3 (what the app itself uses). */
async function sqlite<T = Record<string, unknown>>(file: string, sql: string): Promise<T[]> {
  if (!existsSync(file)) throw new Error(`no such database ${file}`);
  const k = knex({ client: 'better-sqlite3', connection: { filename: file, options: { readonly: true } }, useNullAsDefault: true });
  try {
    return (await k.raw(sql)) as T[];
  } finally {
    await k.destroy();
  }
}
const countAnalyses = async (file: string) => (await sqlite<{ n: number }>(file, 'SELECT count(*) AS n FROM analyses'))[0]!.n;

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function sh(cmd: string, args: string[], env: Record<string, string>, cwd = dir): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    // A bare environment (plus PATH): only what the test sets counts, not the developer's.
    const child = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH!, HOME: dir, ...ports, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

let seq = 0;
function analysis(): NewAnalysis {
  seq += 1;
  return {
    id: `an_test_${seq}_${randomBytes(3).toString('hex')}`,
    priority: 'normal',
    masterPath: 'shows/m.mov',
    dubPath: 'shows/d.wav',
    options: {},
    dedupeKey: randomBytes(8).toString('hex'),
    masterFingerprint: { size: 1, mtimeMs: 1, headTailSha256: 'a'.repeat(64) },
    dubFingerprint: { size: 2, mtimeMs: 2, headTailSha256: 'b'.repeat(64) },
  };
}

async function seed(db: StoreDatabase, n: number): Promise<void> {
  const store = await openStore(db, silent);
  for (let i = 0; i < n; i++) await store.analyses.create(analysis());
  await store.close();
}

/** A process that keeps inserting analyses through the app's store; prints the count as it goes. */
function startWriter(sqliteFile: string): ChildProcess & { count: () => number } {
  const script = path.join(dir, `writer-${randomBytes(3).toString('hex')}.mts`);
  writeFileSync(
    script,
    `import { openStore } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'shared/platform/src/index.ts')).href)};
import { randomBytes } from 'node:crypto';
const store = await openStore({ client: 'sqlite', filename: process.argv[2] }, { debug() {}, info() {}, warn() {}, error() {} });
let n = 0;
for (;;) {
  await store.analyses.create({ id: 'an_w_' + randomBytes(6).toString('hex'), priority: 'normal', masterPath: 'm.mov', dubPath: 'd.wav', options: {}, dedupeKey: randomBytes(8).toString('hex'),
    masterFingerprint: { size: 1, mtimeMs: 1, headTailSha256: 'a'.repeat(64) }, dubFingerprint: { size: 2, mtimeMs: 2, headTailSha256: 'b'.repeat(64) } });
  n += 1;
  process.stdout.write(n + '\\n');
  await new Promise((r) => setTimeout(r, 2));
}
`,
  );
  const child = spawn(process.execPath, ['--import', TSX, script, sqliteFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = 0;
  child.stdout!.on('data', (c: Buffer) => {
    const lines = c.toString().trim().split('\n');
    last = Number(lines[lines.length - 1]);
  });
  return Object.assign(child, { count: () => last });
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

async function until(fn: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function unpack(archive: string, into: string): Promise<string> {
  mkdirSync(into, { recursive: true });
  await new Promise<void>((resolve, reject) => spawn('tar', ['-xzf', archive, '-C', into]).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code}`)))));
  return path.join(into, readdirSync(into).find((f) => f.startsWith('sync-analyzer-'))!);
}

async function repack(pkgDir: string, archive: string): Promise<void> {
  await new Promise<void>((resolve, reject) => spawn('tar', ['-czf', archive, '-C', path.dirname(pkgDir), path.basename(pkgDir)]).on('close', (c) => (c === 0 ? resolve() : reject(new Error(`tar ${c}`)))));
}

async function resum(pkgDir: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    spawn('bash', ['-c', 'find . -type f ! -name SHA256SUMS -printf "%P\\n" | sort | xargs -d "\\n" sha256sum > SHA256SUMS'], { cwd: pkgDir }).on('close', (c) => (c === 0 ? resolve() : reject(new Error(`sha256sum ${c}`)))),
  );
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sa-backup-'));
  ports = { PORT: String(await freePort()), WORKER_HEALTH_PORT: String(await freePort()) };
});

after(() => rmSync(dir, { recursive: true, force: true }));

const VARIANTS: { name: string; env: Record<string, string> }[] = [
  { name: 'sqlite3 CLI (VACUUM INTO)', env: {} },
  { name: 'better-sqlite3 backup API (no sqlite3 CLI)', env: { SQLITE3: '/nonexistent/sqlite3' } },
];
for (const variant of VARIANTS) {
  test(`online SQLite backup while a writer keeps inserting: ${variant.name}`, async () => {
    const data = path.join(dir, `live-${randomBytes(3).toString('hex')}`);
    const file = path.join(data, 'sync-analyzer.sqlite');
    await seed({ client: 'sqlite', filename: file }, 5);
    const writer = startWriter(file);
    try {
      await until(() => writer.count() >= 50, 30_000, 'the writer inserting');
      const dest = path.join(dir, `backups-${randomBytes(3).toString('hex')}`);
      const r = await sh(BACKUP, ['--dest', dest], { DATA_DIR: data, ...variant.env });
      assert.equal(r.code, 0, r.err);
      const atBackup = writer.count();
      const archive = r.out.trim();
      assert.match(path.basename(archive), /^sync-analyzer-\d{8}T\d{6}\.\d{3}Z\.tar\.gz$/);
      assert.ok(existsSync(`${archive}.sha256`));
      assert.match(r.err, variant.env.SQLITE3 ? /better-sqlite3 backup API/ : /VACUUM INTO/);
      const pkg = await unpack(archive, path.join(dest, 'x'));
      const manifest = JSON.parse(readFileSync(path.join(pkg, 'manifest.json'), 'utf8'));
      assert.equal(manifest.database.client, 'sqlite');
      assert.deepEqual(manifest.database.migrations, ['0001_initial']);
      const snap = path.join(pkg, 'db', 'sync-analyzer.sqlite');
      assert.deepEqual(await sqlite(snap, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
      const rows = await countAnalyses(snap);
      assert.ok(rows >= 55, `rows in the snapshot: ${rows}`);
      assert.equal(manifest.database.rows.analyses, rows);
      // The writer was never blocked: it kept inserting after the backup finished.
      await until(() => writer.count() > atBackup + 20, 20_000, 'the writer going on after the backup');
      for (const f of manifest.files) assert.equal(sha(path.join(pkg, f.path)), f.sha256, f.path);
    } finally {
      await stopProcess(writer);
    }
  });
}

test('restore into a fresh DATA_DIR: readable by the app, old database kept aside on a second restore', async () => {
  const src = path.join(dir, 'src-data');
  await seed({ client: 'sqlite', filename: path.join(src, 'sync-analyzer.sqlite') }, 7);
  const dest = path.join(dir, 'backups-restore');
  const b = await sh(BACKUP, ['--dest', dest], { DATA_DIR: src });
  assert.equal(b.code, 0, b.err);
  const archive = b.out.trim();

  const fresh = path.join(dir, 'fresh-data');
  const r = await sh(RESTORE, [archive], { DATA_DIR: fresh });
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /integrity_check ok, 7 analyses/);
  const store = await openStore({ client: 'sqlite', filename: path.join(fresh, 'sync-analyzer.sqlite') }, silent, { migrate: false });
  try {
    assert.deepEqual((await store.migrationStatus()).pending, []);
    const page = await store.analyses.list({ limit: 100 });
    assert.equal(page.total, 7);
    assert.ok(page.items.every((a) => a.masterPath === 'shows/m.mov'));
    await store.analyses.create(analysis());
  } finally {
    await store.close();
  }
  const before8 = sha(path.join(fresh, 'sync-analyzer.sqlite'));
  const again = await sh(RESTORE, [archive], { DATA_DIR: fresh });
  assert.equal(again.code, 0, again.err);
  const aside = readdirSync(fresh).filter((f) => f.startsWith('pre-restore-'));
  assert.equal(aside.length, 1);
  assert.equal(sha(path.join(fresh, aside[0]!, 'sync-analyzer.sqlite')), before8, 'the replaced database is kept, unchanged');
  assert.equal(await countAnalyses(path.join(fresh, 'sync-analyzer.sqlite')), 7);
});

test('damaged archives are refused and nothing is replaced', async () => {
  const src = path.join(dir, 'dmg-src');
  await seed({ client: 'sqlite', filename: path.join(src, 'sync-analyzer.sqlite') }, 3);
  const dest = path.join(dir, 'backups-dmg');
  const archive = (await sh(BACKUP, ['--dest', dest], { DATA_DIR: src })).out.trim();
  const target = path.join(dir, 'dmg-target');
  await seed({ client: 'sqlite', filename: path.join(target, 'sync-analyzer.sqlite') }, 1);
  const original = sha(path.join(target, 'sync-analyzer.sqlite'));
  const unchanged = () => {
    assert.equal(sha(path.join(target, 'sync-analyzer.sqlite')), original);
    assert.deepEqual(readdirSync(target).filter((f) => f.startsWith('pre-restore-') || f.startsWith('.restore-')), []);
  };

  // 1. Bytes flipped in the archive: its .sha256 does not match.
  const flipped = path.join(dest, 'flipped', path.basename(archive));
  mkdirSync(path.dirname(flipped));
  const bytes = readFileSync(archive);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(flipped, bytes);
  writeFileSync(`${flipped}.sha256`, readFileSync(`${archive}.sha256`));
  let r = await sh(RESTORE, [flipped], { DATA_DIR: target });
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /does not match its checksum file/);
  unchanged();

  // 2. Same damage without the .sha256 beside it: gzip/tar or the inner checksums catch it.
  rmSync(`${flipped}.sha256`);
  r = await sh(RESTORE, [flipped], { DATA_DIR: target });
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /REFUSED: (cannot unpack|files in .* do not match SHA256SUMS)/);
  unchanged();

  // 3. The database altered inside, SHA256SUMS left as it was.
  const pkg = await unpack(archive, path.join(dest, 'inner'));
  const dbFile = path.join(pkg, 'db', 'sync-analyzer.sqlite');
  const db = readFileSync(dbFile);
  db.fill(0x41, 4096, 8192);
  writeFileSync(dbFile, db);
  const altered = path.join(dest, 'inner', 'altered.tar.gz');
  await repack(pkg, altered);
  r = await sh(RESTORE, [altered], { DATA_DIR: target });
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /do not match SHA256SUMS/);
  unchanged();

  // 4. Checksums recomputed over the damaged database: integrity_check refuses it.
  await resum(pkg);
  await repack(pkg, altered);
  r = await sh(RESTORE, [altered], { DATA_DIR: target });
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /integrity_check|cannot open|malformed|not a database/);
  unchanged();

  // 5. Not a backup at all.
  const junk = path.join(dest, 'junk.tar.gz');
  writeFileSync(junk, 'not gzip');
  r = await sh(RESTORE, [junk], { DATA_DIR: target });
  assert.equal(r.code, 2, r.err);
  unchanged();

  // --verify-only passes on the good archive and touches nothing.
  r = await sh(RESTORE, [archive, '--verify-only'], { DATA_DIR: target });
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /archive verified/);
  unchanged();
});

test('restore refuses while the service runs (database open, port answering) unless --force', async () => {
  const src = path.join(dir, 'run-src');
  await seed({ client: 'sqlite', filename: path.join(src, 'sync-analyzer.sqlite') }, 2);
  const archive = (await sh(BACKUP, ['--dest', path.join(dir, 'backups-run')], { DATA_DIR: src })).out.trim();
  const live = path.join(dir, 'run-live');
  const file = path.join(live, 'sync-analyzer.sqlite');
  await seed({ client: 'sqlite', filename: file }, 1);
  const writer = startWriter(file);
  try {
    await until(() => writer.count() >= 5, 30_000, 'the writer');
    const r = await sh(RESTORE, [archive], { DATA_DIR: live });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`running: process ${writer.pid} has .*sync-analyzer\\.sqlite`));
    assert.deepEqual(readdirSync(live).filter((f) => f.startsWith('pre-restore-')), []);
  } finally {
    await stopProcess(writer);
  }
  // The API's port answering counts as running too.
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(Number(ports.PORT), '127.0.0.1', () => r()));
  try {
    const r = await sh(RESTORE, [archive], { DATA_DIR: live });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`something answers on port ${ports.PORT} \\(PORT\\)`));
    const forced = await sh(RESTORE, [archive, '--force'], { DATA_DIR: live });
    assert.equal(forced.code, 0, forced.err);
    assert.equal(await countAnalyses(file), 2);
  } finally {
    server.close();
  }
});

test('retention: --keep N leaves the N newest archives', async () => {
  const src = path.join(dir, 'keep-src');
  await seed({ client: 'sqlite', filename: path.join(src, 'sync-analyzer.sqlite') }, 1);
  const dest = path.join(dir, 'backups-keep');
  const made: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await sh(BACKUP, ['--dest', dest, '--keep', '2'], { DATA_DIR: src });
    assert.equal(r.code, 0, r.err);
    made.push(path.basename(r.out.trim()));
  }
  const left = readdirSync(dest).filter((f) => !f.startsWith('.')).sort();
  assert.deepEqual(left, [made[2]!, `${made[2]}.sha256`, made[3]!, `${made[3]}.sha256`]);
  assert.equal((await sh(BACKUP, ['--dest', dest, '--keep', '0'], { DATA_DIR: src })).code, 1);
});

test('PostgreSQL: pg_dump backup, restore over changed data, old content kept aside', async () => {
  const name = `sa_backup_${randomBytes(4).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: PG_ADMIN });
  try {
    await admin.raw('select 1');
  } catch (err) {
    await admin.destroy();
    throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN} (TEST_PG_URL): ${(err as Error).message}`, { cause: err });
  }
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  const DATABASE_URL = url.toString();
  await admin.raw(`CREATE DATABASE "${name}"`);
  try {
    await seed({ client: 'pg', url: DATABASE_URL }, 4);
    const data = path.join(dir, 'pg-data');
    const b = await sh(BACKUP, ['--dest', path.join(dir, 'backups-pg')], { DATA_DIR: data, DATABASE_URL });
    assert.equal(b.code, 0, b.err);
    const archive = b.out.trim();
    const pkg = await unpack(archive, path.join(dir, 'pg-x'));
    const manifest = JSON.parse(readFileSync(path.join(pkg, 'manifest.json'), 'utf8'));
    assert.equal(manifest.database.client, 'pg');
    assert.equal(manifest.database.rows.analyses, 4);
    assert.ok(existsSync(path.join(pkg, 'db', 'postgres.dump')));

    await seed({ client: 'pg', url: DATABASE_URL }, 3);
    const r = await sh(RESTORE, [archive], { DATA_DIR: data, DATABASE_URL });
    assert.equal(r.code, 0, r.err);
    const store = await openStore({ client: 'pg', url: DATABASE_URL }, silent, { migrate: false });
    try {
      assert.equal((await store.analyses.list({ limit: 100 })).total, 4);
      assert.deepEqual((await store.migrationStatus()).pending, []);
    } finally {
      await store.close();
    }
    const aside = readdirSync(data).filter((f) => f.startsWith('pre-restore-'));
    assert.equal(aside.length, 1);
    assert.ok(existsSync(path.join(data, aside[0]!, 'postgres.dump')), 'the database as it was (7 rows) is kept as a dump');

    // A SQLite archive is not restored into a PostgreSQL setup.
    const sqliteSrc = path.join(dir, 'pg-sqlite-src');
    await seed({ client: 'sqlite', filename: path.join(sqliteSrc, 'sync-analyzer.sqlite') }, 1);
    const sqliteArchive = (await sh(BACKUP, ['--dest', path.join(dir, 'backups-pg2')], { DATA_DIR: sqliteSrc })).out.trim();
    const cross = await sh(RESTORE, [sqliteArchive], { DATA_DIR: data, DATABASE_URL });
    assert.equal(cross.code, 2);
    assert.match(cross.err, /holds a sqlite database but the settings use pg/);
  } finally {
    await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.destroy();
  }
});
