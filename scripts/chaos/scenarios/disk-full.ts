// The output volume full: OUTPUT_ROOT on a 2 MB tmpfs (root only; elsewhere the row says it was
// skipped). Repairs write there: a small one fits, a large one fills the volume and must fail
// with a clear code (disk_full) and leave no partial file; a small one after it still succeeds,
// analyses run as before and the service stays ready (DISK_MIN_FREE_MB=1).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeProgramme } from '../../../services/cli/src/testing/media-fixtures.ts';
import { NO_CRASH_LOCK_SECONDS } from '../load/lock.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';
import type { Check, ScenarioRow } from '../table.ts';
import { ChaosStack, until } from '../stack.ts';
import { Ledger, scenarioRow } from '../ledger.ts';
import { UniqueSubmitter } from '../load/submissions.ts';
import { ProbeLoop, statusText } from '../load/probe-loop.ts';
import { isRoot, mountTmpfs, type MountedTmpfs } from '../load/tmpfs.ts';

const TMPFS_MB = 2;
/** Stereo 48 kHz 16-bit PCM: 187.5 kB/s, and the repair writes the same format. */
const STEREO_PCM = ['-c:a', 'pcm_s16le'];
const SMALL_SECONDS = 1.5; // ~290 kB: two fit with 1 MB (DISK_MIN_FREE_MB) to spare
const LARGE_SECONDS = 12; // ~2.3 MB: more than the whole volume

interface RepairOutcome {
  id: string;
  status: string;
  code: string | null;
  message: string | null;
  output: string | null;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out.sort();
}

async function repair(stack: ChaosStack, dub: string): Promise<RepairOutcome> {
  const r = await stack.request('POST', '/api/v1/repairs', { dub, offset_seconds: 0.25, verify: false });
  if (r.status !== 202) throw new Error(`repair of ${dub} refused: ${r.status} ${r.text.slice(0, 300)}`);
  const id = r.body.repair.id as string;
  const final = await until(
    async () => {
      const g = await stack.request('GET', `/api/v1/repairs/${id}`);
      const rep = g.status === 200 ? g.body.repair : null;
      return rep && ['completed', 'failed', 'cancelled', 'timed_out'].includes(rep.status) ? rep : null;
    },
    300_000,
    `repair ${id} final`,
    300,
  );
  return { id, status: final.status, code: final.error?.code ?? null, message: final.error?.message ?? null, output: final.output ?? null };
}

function skippedRow(reason: string): ScenarioRow {
  return {
    scenario: 'disk-full',
    load: '-',
    faults: `skipped: ${reason}`,
    submitted: 0,
    completed: 0,
    failed: 0,
    failedReasons: {},
    lost: 0,
    duplicated: 0,
    changed: 0,
    recoverySeconds: null,
    healthyAtEnd: true,
    extra: { skipped: reason },
    checks: [{ name: 'skipped (needs root to mount a tmpfs)', ok: true, detail: reason }],
  };
}

export const diskFull: Scenario = {
  name: 'disk-full',
  description: `OUTPUT_ROOT on a ${TMPFS_MB} MB tmpfs: a repair that fills it fails with disk_full and no partial file; the service keeps serving, later repairs and analyses succeed`,
  async run(ctx: ScenarioContext): Promise<ScenarioRow> {
    if (!isRoot()) return skippedRow('not running as root: cannot mount a tmpfs');
    const mountDir = await mkdtemp(path.join(os.tmpdir(), 'sa-chaos-tmpfs-'));
    let volume: MountedTmpfs | null = null;
    let stack: ChaosStack | null = null;
    let ledger: Ledger | null = null;
    try {
      volume = await mountTmpfs(mountDir, TMPFS_MB);
      stack = await ChaosStack.start({ name: 'disk-full', workers: 1, outputRoot: volume.dir, env: { DISK_MIN_FREE_MB: '1' }, jobLockSeconds: NO_CRASH_LOCK_SECONDS });
      ledger = new Ledger(stack);
      const s = stack;
      const pairs = await s.media.pairs({ count: 4 });
      const submitter = new UniqueSubmitter(s, pairs, ledger);
      await makeProgramme(path.join(s.mediaRoot, 'small-dub-1.wav'), 101, SMALL_SECONDS, STEREO_PCM);
      await makeProgramme(path.join(s.mediaRoot, 'small-dub-2.wav'), 102, SMALL_SECONDS, STEREO_PCM);
      await makeProgramme(path.join(s.mediaRoot, 'large-dub.wav'), 103, LARGE_SECONDS, STEREO_PCM);
      await submitter.submitMany(2, 2);

      const first = await repair(s, 'small-dub-1.wav');
      const freeBefore = await volume.freeBytes();
      ctx.log(`small repair: ${first.status}; ${(freeBefore / 1024).toFixed(0)} kB free`);
      const probes = new ProbeLoop(s, [
        { name: 'livez', path: '/livez' },
        { name: 'list', path: '/api/v1/analyses?limit=20' },
      ]);
      probes.start();
      const large = await repair(s, 'large-dub.wav');
      const during = await probes.stop();
      // Recovery: from the failure to the next repair written.
      const t0 = Date.now();
      const filesAfterFailure = await filesUnder(volume.dir);
      const freeAfterFailure = await volume.freeBytes();
      ctx.log(`large repair: ${large.status} ${large.code ?? ''}; files: ${filesAfterFailure.join(', ')}`);

      const second = await repair(s, 'small-dub-2.wav');
      const recoverySeconds = (Date.now() - t0) / 1000;
      await submitter.submitMany(2, 2);
      await s.waitFinal(ledger.ids(), { timeoutMs: 600_000, observe: ledger });
      const report = await ledger.verify();
      const health = await s.health();
      const finalFiles = await filesUnder(volume.dir);

      const expectedOutputs = [first.output, second.output].filter((o): o is string => o !== null).sort();
      const checks: Check[] = [
        { name: 'a repair that fits is written', ok: first.status === 'completed' && second.status === 'completed', detail: `before the failure: ${first.status}${first.code ? ` (${first.code})` : ''}; after it: ${second.status}${second.code ? ` (${second.code}: ${second.message})` : ''}` },
        {
          name: 'the repair that fills the volume fails with a clear code (disk_full)',
          ok: large.status === 'failed' && large.code === 'disk_full',
          detail: `${large.status} ${large.code ?? ''}: ${(large.message ?? '').slice(0, 200)}`,
        },
        {
          name: 'no partial output is left behind',
          ok: filesAfterFailure.length === 1 && filesAfterFailure[0] === first.output && Math.abs(freeAfterFailure - freeBefore) < 64 * 1024,
          detail: `after the failure: ${filesAfterFailure.join(', ') || 'no files'}; free ${(freeBefore / 1024).toFixed(0)} kB before, ${(freeAfterFailure / 1024).toFixed(0)} kB after`,
        },
        { name: 'only the completed repairs remain in the output volume', ok: JSON.stringify(finalFiles) === JSON.stringify(expectedOutputs), detail: `${finalFiles.join(', ')} (expected ${expectedOutputs.join(', ')})` },
        {
          name: 'the API kept serving while the volume was full',
          ok: during.every((p) => p.requests > 0 && Object.keys(p.statuses).every((k) => k === '200')),
          detail: during.map((p) => `${p.name} ${statusText(p.statuses)}, max ${p.maxMs} ms`).join('; '),
        },
      ];
      return scenarioRow({
        scenario: 'disk-full',
        load: `${report.submitted} analyses + 3 repairs, 1 worker`,
        faults: `OUTPUT_ROOT on a ${TMPFS_MB} MB tmpfs filled by a repair`,
        report,
        health,
        recoverySeconds: Math.round(recoverySeconds * 10) / 10,
        extra: { largeRepair: `${large.status} ${large.code ?? ''}`.trim(), freeKBAfterFailure: Math.round(freeAfterFailure / 1024), outputFiles: finalFiles.length },
        checks,
      });
    } finally {
      await ledger?.close();
      await stack?.close();
      await volume?.unmount();
      await rm(mountDir, { recursive: true, force: true });
    }
  },
};
