// Online backup under write load: analyses submitted through the API at 25/s (real rows) before,
// during and after scripts/backup.sh; then scripts/restore.sh into an empty DATA_DIR. The
// restored database passes PRAGMA integrity_check, its row counts equal the backup manifest's,
// those counts lie between the live counts just before and just after the backup (one consistent
// snapshot), and every restored row exists in the live store. The writes are not slowed below
// 20/s by the backup. Afterwards the analyses still queued are cancelled through the API (this
// scenario is about the store, not about analysing hundreds of jobs).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { NO_CRASH_LOCK_SECONDS } from '../load/lock.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';
import type { Check, ScenarioRow } from '../table.ts';
import { ChaosStack, REPO_ROOT, freePort } from '../stack.ts';
import { Ledger, StoreReader, scenarioRow } from '../ledger.ts';
import { UniqueSubmitter, type Submitted } from '../load/submissions.ts';
import { round } from '../load/stats.ts';

const WRITE_RATE = 25;
const WRITE_RATE_REQUIRED = 20;

interface Run {
  code: number | null;
  out: string;
  err: string;
  seconds: number;
}

/** Runs a script with a bare environment (only what is given, plus PATH and HOME). */
function runScript(file: string, args: string[], env: Record<string, string>, home: string): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err, seconds: (performance.now() - t0) / 1000 }));
  });
}

/** manifest.json out of a backup archive (tar to stdout). */
async function readManifest(archive: string, home: string): Promise<{ database: { rows: Record<string, number> } }> {
  const r = await runScript('tar', ['-xzOf', archive, '--wildcards', '*/manifest.json'], {}, home);
  if (r.code !== 0) throw new Error(`cannot read manifest.json from ${archive}: ${r.err}`);
  return JSON.parse(r.out) as { database: { rows: Record<string, number> } };
}

async function readRestored(file: string): Promise<{ integrity: string; counts: Record<string, number>; ids: string[] }> {
  const k = knex({ client: 'better-sqlite3', connection: { filename: file, options: { readonly: true } }, useNullAsDefault: true });
  try {
    const integrity = ((await k.raw('PRAGMA integrity_check')) as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
    const counts: Record<string, number> = {};
    for (const t of ['analyses', 'batches', 'repairs']) counts[t] = Number(((await k(t).count({ n: '*' })) as { n: number }[])[0]?.n ?? 0);
    const ids = ((await k('analyses').select('id')) as { id: string }[]).map((r) => r.id);
    return { integrity, counts, ids };
  } finally {
    await k.destroy();
  }
}

/** Accepted submissions per second whose answer came within [from, to] (performance.now()). */
function rateWithin(subs: readonly Submitted[], from: number, to: number): number {
  const n = subs.filter((s) => s.id && s.at >= from && s.at <= to).length;
  return to > from ? n / ((to - from) / 1000) : 0;
}

export const backupUnderLoad: Scenario = {
  name: 'backup-under-load',
  description: `scripts/backup.sh while the API stores ${WRITE_RATE} submissions/s; scripts/restore.sh into an empty DATA_DIR: integrity_check ok, row counts equal the manifest, consistent snapshot`,
  async run(ctx: ScenarioContext): Promise<ScenarioRow> {
    const leadSeconds = ctx.bounded ? 3 : 10;
    const tailSeconds = ctx.bounded ? 2 : 10;
    const work = await mkdtemp(path.join(os.tmpdir(), 'sa-chaos-backup-'));
    const stack = await ChaosStack.start({ name: 'backup-under-load', workers: 1, workerNice: 10, jobLockSeconds: NO_CRASH_LOCK_SECONDS });
    const ledger = new Ledger(stack);
    const live = StoreReader.open(stack);
    try {
      // An empty settings file: the scripts must not pick up a developer's .env in the checkout.
      const envFile = path.join(work, 'empty.env');
      await writeFile(envFile, '');
      const dest = path.join(work, 'backups');
      const restoreDir = path.join(work, 'restored-data');
      await mkdir(restoreDir);
      const pairs = await stack.media.pairs({ count: 12 });
      const submitter = new UniqueSubmitter(stack, pairs, ledger);

      let backupEnd: number | null = null;
      const writeStart = performance.now();
      const writing = submitter.paced({
        ratePerSecond: WRITE_RATE,
        durationMs: 120_000,
        maxInFlight: 10,
        stop: () => backupEnd !== null && performance.now() > backupEnd + tailSeconds * 1000,
      });
      await new Promise((r) => setTimeout(r, leadSeconds * 1000));
      const before = await live.counts();
      const backupStart = performance.now();
      const backup = await runScript(path.join(REPO_ROOT, 'scripts/backup.sh'), ['--dest', dest, '--no-env', '--env-file', envFile], { DATA_DIR: stack.dataDir, OUTPUT_ROOT: stack.outputRoot, MOUNT_PATH: stack.mediaRoot }, work);
      backupEnd = performance.now();
      const afterBackup = await live.counts();
      const writes = await writing;
      const writeEnd = performance.now();
      if (backup.code !== 0) throw new Error(`backup.sh exited ${backup.code}: ${backup.err.trim().slice(-500)}`);
      const archive = backup.out.trim().split('\n').pop()!;
      ctx.log(`backup in ${backup.seconds.toFixed(1)} s: ${path.basename(archive)}; analyses ${before.analyses} before, ${afterBackup.analyses} after`);

      const [apiPort, workerPort] = [await freePort(), await freePort()];
      const restore = await runScript(path.join(REPO_ROOT, 'scripts/restore.sh'), [archive, '--env-file', envFile], { DATA_DIR: restoreDir, PORT: String(apiPort), WORKER_HEALTH_PORT: String(workerPort) }, work);
      const manifest = await readManifest(archive, work);
      const restored = restore.code === 0 ? await readRestored(path.join(restoreDir, 'sync-analyzer.sqlite')) : null;
      const liveIds = new Set((await live.rows()).map((r) => r.id));
      const missingInLive = restored ? restored.ids.filter((id) => !liveIds.has(id)) : [];

      // The analyses still queued are cancelled: the worker would need many minutes for them all.
      const cancelled = new Set<string>();
      const pending = ledger.ids();
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let id = pending.shift(); id !== undefined; id = pending.shift()) {
            const a = await stack.getAnalysis(id);
            if (a && (a.status === 'queued' || a.status === 'running')) {
              const r = await stack.request('POST', `/api/v1/analyses/${id}/cancel`);
              if (r.status === 200) cancelled.add(id);
            }
          }
        }),
      );
      await stack.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });
      const report = await ledger.verify();
      const health = await stack.health();
      const finals = await Promise.all(ledger.ids().map(async (id) => ({ id, a: await stack.getAnalysis(id) })));
      const unexpected = finals.filter(({ id, a }) => !(a?.status === 'completed' || (a?.status === 'cancelled' && cancelled.has(id))));
      // A job already running when it was asked to stop may still have completed first.
      const cancelledCount = finals.filter(({ a }) => a?.status === 'cancelled').length;

      const refused = writes.filter((s) => !s.id);
      const duringRate = rateWithin(writes, backupStart, backupEnd);
      const overallRate = rateWithin(writes, writeStart, writeEnd);
      const rows = manifest.database.rows;
      const checks: Check[] = [
        { name: `writes kept at >= ${WRITE_RATE_REQUIRED}/s during the backup`, ok: duringRate >= WRITE_RATE_REQUIRED, detail: `${duringRate.toFixed(1)}/s during the ${backup.seconds.toFixed(1)} s backup, ${overallRate.toFixed(1)}/s overall` },
        { name: 'every submission accepted', ok: refused.length === 0, detail: refused.length ? `${refused.length} refused: ${refused.slice(0, 3).map((s) => `${s.status} ${s.code}`).join(', ')}` : `${writes.length} accepted` },
        { name: 'restore into an empty DATA_DIR succeeds', ok: restore.code === 0, detail: restore.code === 0 ? restore.err.trim().split('\n').filter((l) => /integrity_check|restored/.test(l)).join(' / ') : `exit ${restore.code}: ${restore.err.trim().slice(-300)}` },
        { name: 'restored database passes PRAGMA integrity_check', ok: restored?.integrity === 'ok', detail: restored?.integrity ?? 'not restored' },
        {
          name: 'restored row counts equal the manifest',
          ok: restored !== null && ['analyses', 'batches', 'repairs'].every((t) => restored.counts[t] === rows[t]),
          detail: `manifest ${JSON.stringify(rows)}, restored ${JSON.stringify(restored?.counts ?? null)}`,
        },
        {
          name: 'the snapshot is one consistent point between before and after',
          ok: rows.analyses! >= before.analyses! && rows.analyses! <= afterBackup.analyses! && missingInLive.length === 0,
          detail: `analyses live before ${before.analyses}, in backup ${rows.analyses}, live after ${afterBackup.analyses}; ${missingInLive.length} restored rows not in the live store`,
        },
        { name: 'every analysis completed or was cancelled by the scenario', ok: unexpected.length === 0, detail: unexpected.length ? unexpected.slice(0, 5).map((u) => `${u.id}: ${u.a?.status ?? 'missing'}`).join('; ') : `${report.completed} completed, ${cancelledCount} cancelled after the backup` },
      ];
      const { offsetMismatches } = report;
      checks.push({ name: 'stored offsets match the known offsets', ok: offsetMismatches.length === 0, detail: offsetMismatches.length ? offsetMismatches.slice(0, 3).map((m) => `${m.id}: ${m.expected} vs ${m.got}`).join('; ') : 'all within tolerance' });
      return scenarioRow({
        scenario: 'backup-under-load',
        load: `${writes.length} submissions at ${WRITE_RATE}/s via the API, 1 worker nice 10`,
        faults: `scripts/backup.sh mid-load, restore.sh into an empty dir`,
        report,
        health,
        recoverySeconds: null,
        outcomes: false,
        extra: {
          backupSeconds: round(backup.seconds),
          restoreSeconds: round(restore.seconds),
          'writesPerSecond.duringBackup': round(duringRate),
          'writesPerSecond.overall': round(overallRate),
          'rows.before': before.analyses ?? 0,
          'rows.inBackup': rows.analyses ?? 0,
          'rows.after': afterBackup.analyses ?? 0,
          cancelledAfterBackup: cancelledCount,
        },
        checks,
      });
    } finally {
      await live.close();
      await ledger.close();
      await stack.close();
      await rm(work, { recursive: true, force: true });
    }
  },
};
