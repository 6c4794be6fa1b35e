// Listening proxies and energy overviews (for the web UI's A/B player and waveform view). A
// worker transcodes each input once (per content and audio selection) into DATA_DIR/proxies;
// the API only looks for the files and queues the job when they are missing.
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { JOB_PAYLOAD_VERSION, canonicalJson, type AnalysisRecord, type JobQueues, type FileFingerprint } from '@sync-analyzer/platform';
import type { AudioSelection } from '@sync-analyzer/media';

/** Bumped when the proxy format changes (old files are then simply not found). */
const PROXY_FORMAT = 1;

export type ProxySide = 'master' | 'dub';

export function proxyKey(fp: FileFingerprint, selection: AudioSelection | undefined): string {
  return createHash('sha256').update(canonicalJson({ fp, selection: selection ?? { kind: 'auto' }, format: PROXY_FORMAT })).digest('hex').slice(0, 40);
}

export interface ProxyState {
  key: string;
  status: 'ready' | 'pending' | 'failed';
  audioPath: string;
  overviewPath: string;
  error?: string;
}

export class Proxies {
  constructor(
    private readonly dir: string,
    private readonly queues: JobQueues,
  ) {}

  private sideOf(rec: AnalysisRecord, side: ProxySide) {
    return side === 'master'
      ? { path: rec.masterPath, fp: rec.masterFingerprint, selection: rec.options.masterSelection }
      : { path: rec.dubPath, fp: rec.dubFingerprint, selection: rec.options.dubSelection };
  }

  /** Where the proxy is; queues its job when it is missing (idempotent: one job per key). */
  async ensure(rec: AnalysisRecord, side: ProxySide): Promise<ProxyState> {
    const s = this.sideOf(rec, side);
    const key = proxyKey(s.fp, s.selection);
    const audioPath = path.join(this.dir, `${key}.ogg`);
    const overviewPath = path.join(this.dir, `${key}.json`);
    if (await exists(audioPath)) return { key, status: 'ready', audioPath, overviewPath };
    const job = await this.queues.queues.proxy.getJob(`px_${key}`);
    if (job && (await job.getState()) === 'failed') {
      if ((job.attemptsMade ?? 0) >= 2) return { key, status: 'failed', audioPath, overviewPath, error: job.failedReason };
      await job.retry('failed');
    } else if (!job || (await job.getState()) === 'completed') {
      if (job) await job.remove().catch(() => undefined);
      await this.queues.add({ kind: 'proxy', version: JOB_PAYLOAD_VERSION, proxyKey: key, path: s.path, ...(s.selection ? { selection: s.selection } : {}) }, 'normal');
    }
    return { key, status: 'pending', audioPath, overviewPath };
  }

  async overview(rec: AnalysisRecord, side: ProxySide): Promise<{ state: ProxyState; overview: unknown | null }> {
    const state = await this.ensure(rec, side);
    if (state.status !== 'ready') return { state, overview: null };
    return { state, overview: JSON.parse(await readFile(state.overviewPath, 'utf8')) as unknown };
  }
}

const exists = (p: string) => access(p).then(() => true, () => false);
