import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AudioSelection } from '@sync-analyzer/media';
import { dispatchJob, JOB_PAYLOAD_VERSION, JOB_POLICY, JobPayloadError, JobSchema, parseJob, type Job, type JobHandlers } from './jobs.ts';
import type { z } from 'zod';
import type { AudioSelectionSchema } from './jobs.ts';

// Compile-time: the queue's selection schema and the media library's type are the same shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const selectionsMatch: Same<z.infer<typeof AudioSelectionSchema>, AudioSelection> = true;

describe('job contracts', () => {
  test('the selection schema matches the media type', () => assert.equal(selectionsMatch, true));
  test('a valid analysis payload parses, with defaults', () => {
    const job = parseJob({ kind: 'analysis', version: JOB_PAYLOAD_VERSION, analysisId: 'a1', master: 'm.wav', dub: 'd.wav' });
    assert.equal(job.kind, 'analysis');
    assert.deepEqual(job.kind === 'analysis' && job.options, {});
  });
  test('a version this worker cannot read is refused, not misread', () => {
    assert.throws(() => parseJob({ kind: 'analysis', version: -1, analysisId: 'a1', master: 'm', dub: 'd' }), (e: unknown) => e instanceof JobPayloadError && !e.retryable && /version -1/.test(e.message));
  });
  test('unknown kinds and bad fields are refused with the field named', () => {
    assert.throws(() => parseJob({ kind: 'transcode', version: JOB_PAYLOAD_VERSION }), JobPayloadError);
    assert.throws(() => parseJob({ kind: 'repair', version: JOB_PAYLOAD_VERSION, repairId: 'r', dub: 'd', offsetSeconds: 'late' }), /offsetSeconds/);
  });
  test('every kind has a policy and dispatch reaches its own handler', async () => {
    const kinds = JobSchema.options.map((o) => o.shape.kind.value);
    assert.deepEqual(Object.keys(JOB_POLICY).sort(), [...kinds].sort());
    const seen: string[] = [];
    const handlers: JobHandlers<string> = {
      analysis: async (j) => (seen.push(j.analysisId), 'analysis'),
      repair: async (j) => (seen.push(j.repairId), 'repair'),
      proxy: async (j) => (seen.push(j.proxyKey), 'proxy'),
      batch: async (j) => (seen.push(j.batchId), 'batch'),
    };
    const jobs: Job[] = [
      parseJob({ kind: 'analysis', version: 1, analysisId: 'a', master: 'm', dub: 'd' }),
      parseJob({ kind: 'repair', version: 1, repairId: 'r', dub: 'd', output: 'repairs/d.wav', offsetSeconds: 1.5 }),
      parseJob({ kind: 'batch', version: 1, batchId: 'b', analysisIds: ['a'] }),
      parseJob({ kind: 'proxy', version: 1, proxyKey: 'ab'.repeat(12), path: 'm.wav' }),
    ];
    for (const j of jobs) assert.equal(await dispatchJob(handlers, j), j.kind);
    assert.deepEqual(seen, ['a', 'r', 'b', 'ab'.repeat(12)]);
  });
  test('interactive analyses outrank batches', () => assert.ok(JOB_POLICY.analysis.priority < JOB_POLICY.batch.priority));
});

test('payload versions: older ones are upgraded, newer ones are retryable, unversioned ones are refused', async () => {
  const { JobPayloadTooNewError } = await import('./jobs.ts');
  const current = { kind: 'analysis', analysisId: 'a', master: 'm.wav', dub: 'd.wav' };
  // A hypothetical v0 used `masterPath`; the upgrade table maps it to the current shape.
  const upgrades = { 0: (old: Record<string, unknown>) => ({ ...old, master: old.masterPath, masterPath: undefined, version: 1 }) };
  const up = parseJob({ kind: 'analysis', version: 0, analysisId: 'a', masterPath: 'm.wav', dub: 'd.wav' }, upgrades);
  assert.equal(up.kind === 'analysis' && up.master, 'm.wav');
  assert.throws(() => parseJob({ ...current, version: 0 }), /cannot be upgraded/);
  assert.throws(() => parseJob({ ...current, version: JOB_PAYLOAD_VERSION + 1 }), (e: unknown) => e instanceof JobPayloadTooNewError && e.retryable);
  assert.throws(() => parseJob({ ...current }), /no version/);
});
