// Polls a few API endpoints on a fixed period while a fault is in place, and keeps every answer's
// status and latency: "does the service keep serving" as figures (each request has a timeout, so
// a frozen API shows as timeouts, not as a hang of the scenario).
import type { ChaosStack } from '../stack.ts';
import { percentile, round } from './stats.ts';

export interface ProbeTarget {
  name: string;
  path: string;
}

export interface ProbeStats {
  name: string;
  requests: number;
  /** status -> count; 0 = no answer within the timeout */
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class ProbeLoop {
  private readonly samples = new Map<string, { status: number; ms: number }[]>();
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly stack: ChaosStack,
    private readonly targets: readonly ProbeTarget[],
    private readonly everyMs = 250,
    private readonly timeoutMs = 10_000,
  ) {}

  start(): void {
    this.running = Promise.all(
      this.targets.map(async (t) => {
        const list: { status: number; ms: number }[] = [];
        this.samples.set(t.name, list);
        while (!this.stopped) {
          const r = await this.stack.request('GET', t.path, undefined, { timeoutMs: this.timeoutMs });
          list.push({ status: r.status, ms: r.ms });
          await new Promise((res) => setTimeout(res, this.everyMs));
        }
      }),
    ).then(() => undefined);
  }

  async stop(): Promise<ProbeStats[]> {
    this.stopped = true;
    await this.running;
    return this.targets.map((t) => {
      const list = this.samples.get(t.name) ?? [];
      const statuses: Record<string, number> = {};
      for (const s of list) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
      const ms = list.map((s) => s.ms);
      return { name: t.name, requests: list.length, statuses, p50Ms: round(percentile(ms, 50)), p99Ms: round(percentile(ms, 99)), maxMs: round(Math.max(0, ...ms)) };
    });
  }
}

/** "200x40" style summary of a status map. */
export function statusText(statuses: Record<string, number>): string {
  return Object.entries(statuses)
    .map(([s, n]) => `${s}x${n}`)
    .join(' ');
}
