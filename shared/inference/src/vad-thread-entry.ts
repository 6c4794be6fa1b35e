/** The VAD worker thread: owns one SileroVad and answers VadWorker's requests. */
import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceLogger } from './logger.ts';
import { SileroVad } from './silero-vad.ts';
import { cloneableLogObject, serializeError } from './worker-protocol.ts';
import type { FromWorker, LogLevel, ToWorker, WorkerOptions } from './worker-protocol.ts';

if (!parentPort) throw new Error('vad-thread-entry.ts runs only as a worker thread (see VadWorker)');
const port = parentPort;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

const at =
  (level: LogLevel) =>
  (obj: object, msg?: string): void =>
    post({ type: 'log', level, obj: cloneableLogObject(obj), ...(msg !== undefined ? { msg } : {}) });
const logger: InferenceLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };

let vad: SileroVad | null = null;
try {
  vad = await SileroVad.open({ ...(workerData as { opts: WorkerOptions }).opts, logger });
  post({ type: 'ready', info: vad.info() });
} catch (e) {
  // The parent rejects start() with this error and terminates the thread.
  post({ type: 'failed', error: serializeError(e) });
}

if (vad) serve(vad);

function serve(v: SileroVad): void {
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      void v.close().finally(() => {
        post({ type: 'closed' });
        port.close();
      });
      return;
    }
    v.detect(m.pcm, m.opts).then(
      (result) => post({ type: 'result', id: m.id, result }, [result.probs.buffer as ArrayBuffer]),
      (e: unknown) => post({ type: 'error', id: m.id, error: serializeError(e) }),
    );
  });
}
