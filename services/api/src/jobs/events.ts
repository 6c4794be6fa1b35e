// In-process fan-out of job events to Server-Sent Events clients (one stream per analysis and
// one stream of everything for the web UI).
import { EventEmitter } from 'node:events';

export type JobEvent =
  | { type: 'progress'; kind: 'analysis' | 'repair'; id: string; percent: number; stage: string | null }
  | { type: 'status'; kind: 'analysis' | 'repair' | 'batch' | 'proxy'; id: string; status: string; batchId?: string | null };

export class JobEventBus {
  private readonly emitter = new EventEmitter();
  constructor() {
    // Every open SSE connection is a listener.
    this.emitter.setMaxListeners(0);
  }
  emit(e: JobEvent): void {
    this.emitter.emit('event', e);
  }
  subscribe(fn: (e: JobEvent) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }
  get listeners(): number {
    return this.emitter.listenerCount('event');
  }
}
