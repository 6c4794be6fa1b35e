/**
 * SileroVad in a worker thread: ONNX Runtime's run() blocks the thread that calls it, so
 * a service keeps its event loop (HTTP, queue heartbeats) free by running inference here.
 *
 * The code runs under tsx without a build step. Node 20 does not apply `--import tsx`
 * hooks to a worker's entry module, so the thread starts in a plain-JS bootstrap that
 * registers tsx and then imports the TypeScript entry.
 */
import { Worker } from 'node:worker_threads';
import { VadWorkerError } from './errors.ts';
import type { InferenceLogger } from './logger.ts';
import type { SileroVadOptions, VadDetectOptions, VadInfo, VadResult } from './silero-vad.ts';
import { deserializeError } from './worker-protocol.ts';
import type { FromWorker, ToWorker, WorkerOptions } from './worker-protocol.ts';

const ENTRY = new URL('./vad-thread-boot.mjs', import.meta.url);
const CLOSE_GRACE_MS = 5000;

interface Pending {
  resolve: (r: VadResult) => void;
  reject: (e: Error) => void;
}

export class VadWorker {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly vadInfo: VadInfo,
    private readonly logger: InferenceLogger,
  ) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e) => this.fail(new VadWorkerError(`VAD worker thread crashed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => this.fail(new VadWorkerError(`VAD worker thread exited (code ${code})`)));
    // Idle, the thread must not keep the process alive; ref() again while requests are pending.
    worker.unref();
  }

  /** Starts the thread and opens the model there; rejects with the model/provider error if that fails. */
  static start(opts: SileroVadOptions): Promise<VadWorker> {
    const { logger, ...rest } = opts;
    const workerOpts: WorkerOptions = rest;
    const worker = new Worker(ENTRY, {
      workerData: { opts: workerOpts },
      execArgv: [],
      name: 'silero-vad',
    });
    return new Promise<VadWorker>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'log') {
          logger[m.level](m.obj, m.msg);
        } else if (m.type === 'ready') {
          cleanup();
          resolve(new VadWorker(worker, m.info, logger));
        } else if (m.type === 'failed') {
          cleanup();
          void worker.terminate();
          reject(deserializeError(m.error));
        }
      };
      const onError = (e: Error): void => {
        cleanup();
        void worker.terminate();
        reject(new VadWorkerError(`VAD worker thread failed to start: ${e.message}`, { cause: e }));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new VadWorkerError(`VAD worker thread exited during start (code ${code})`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  info(): VadInfo {
    return this.vadInfo;
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  /**
   * Same as SileroVad.detect, in the thread. `pcm`'s buffer is transferred, so it is
   * detached (empty) here afterwards; a view on a larger or shared buffer is copied first.
   */
  detect(pcm: Float32Array, opts: VadDetectOptions = {}): Promise<VadResult> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new VadWorkerError('VAD worker is closing'));
    const shared = typeof SharedArrayBuffer !== 'undefined' && pcm.buffer instanceof SharedArrayBuffer;
    const owns = pcm.byteOffset === 0 && pcm.byteLength === pcm.buffer.byteLength;
    const data = shared || owns ? pcm : pcm.slice();
    const id = this.nextId++;
    return new Promise<VadResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      const msg: ToWorker = { type: 'detect', id, pcm: data, opts };
      try {
        this.worker.postMessage(msg, shared ? [] : [data.buffer as ArrayBuffer]);
      } catch (e) {
        this.settle(id);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Releases the model and ends the thread; pending requests are rejected. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      if (this.dead) {
        resolve();
        return;
      }
      const timer = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.ref();
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
    return this.closing;
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'log':
        this.logger[m.level](m.obj, m.msg);
        return;
      case 'result':
        this.settle(m.id)?.resolve(m.result);
        return;
      case 'error':
        this.settle(m.id)?.reject(deserializeError(m.error));
        return;
      default:
        return;
    }
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.closing) this.worker.unref();
    return p;
  }

  private fail(e: VadWorkerError): void {
    if (!this.dead) this.dead = this.closing ? new VadWorkerError('VAD worker is closed') : e;
    if (!this.closing && this.pending.size > 0) this.logger.error({ err: e }, 'VAD worker thread died');
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
