// Analyses submitted through the API, each one a distinct submission (no deduplication): a small
// pool of generated pairs, each submitted with a slightly different in-sync tolerance (an option
// that only moves the verdict threshold), so every POST stores a new row and runs a real job.
// Optionally paced at a fixed rate (the backup and load scenarios).
import type { ChaosStack, MediaPair } from '../stack.ts';
import type { Ledger } from '../ledger.ts';

export interface Submitted {
  id: string | null;
  status: number;
  /** Error code of a refused submission (from the API's error body), or the network error. */
  code: string | null;
  /** performance.now() when the answer came. */
  at: number;
  ms: number;
  pair: MediaPair;
}

export class UniqueSubmitter {
  private n = 0;
  readonly results: Submitted[] = [];

  constructor(
    private readonly stack: ChaosStack,
    private readonly pairs: readonly MediaPair[],
    private readonly ledger: Ledger | null,
  ) {
    if (pairs.length === 0) throw new Error('UniqueSubmitter needs at least one pair');
  }

  /** Submits the next distinct analysis; records accepted ids in the ledger with the known offset. */
  async submit(timeoutMs = 30_000): Promise<Submitted> {
    const k = this.n++;
    const pair = this.pairs[k % this.pairs.length]!;
    // 1 frame (the engine's default) plus k millionths of a frame: distinct options, same verdicts.
    const r = await this.stack.submitAnalysis(pair.master, pair.dub, { inSyncFrames: 1 + k / 1e6 }, undefined, timeoutMs);
    const s: Submitted = {
      id: r.status >= 200 && r.status < 300 ? r.id : null,
      status: r.status,
      code: r.status >= 200 && r.status < 300 ? null : ((r.body?.error?.code as string | undefined) ?? r.error ?? `http_${r.status}`),
      at: performance.now(),
      ms: r.ms,
      pair,
    };
    if (s.id && r.deduplicated) throw new Error(`submission ${k} was deduplicated to ${s.id}: the submitter's options are not distinct`);
    if (s.id) this.ledger?.record(s.id, { offsetSeconds: pair.offsetSeconds });
    this.results.push(s);
    return s;
  }

  /** n submissions, `parallel` at a time. */
  async submitMany(n: number, parallel = 4): Promise<Submitted[]> {
    const out: Submitted[] = [];
    let left = n;
    await Promise.all(
      Array.from({ length: Math.min(parallel, n) }, async () => {
        while (left > 0) {
          left--;
          out.push(await this.submit());
        }
      }),
    );
    return out;
  }

  /**
   * Submissions at a fixed rate for durationMs (at most maxInFlight unanswered at once: a slow
   * API lowers the achieved rate rather than piling up requests). Resolves when all are answered.
   */
  async paced(o: { ratePerSecond: number; durationMs: number; maxInFlight: number; stop?: () => boolean }): Promise<Submitted[]> {
    const out: Submitted[] = [];
    const inFlight = new Set<Promise<void>>();
    const t0 = performance.now();
    const interval = 1000 / o.ratePerSecond;
    for (let i = 0; ; i++) {
      const due = t0 + i * interval;
      if (due - t0 >= o.durationMs || o.stop?.()) break;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      while (inFlight.size >= o.maxInFlight) await Promise.race(inFlight);
      const p = this.submit().then((s) => void out.push(s));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await Promise.all(inFlight);
    return out;
  }
}
