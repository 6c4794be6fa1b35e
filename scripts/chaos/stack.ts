// The chaos suite's process-level stack: redis-server, the API and N workers as real, separate
// OS processes on this machine, with a private Redis port, queue prefix, temp dirs and database.
//
// Usage (a scenario):
//   const stack = await ChaosStack.start({ name: 'my-scenario', workers: 2 });
//   try {
//     const pairs = await stack.media.pairs({ count: 20 });          // generated with ffmpeg
//     const ledger = new Ledger(stack);
//     for (const p of pairs) {
//       const r = await stack.submitAnalysis(p.master, p.dub);       // POST /api/v1/analyses
//       if (r.id) ledger.record(r.id, { offsetSeconds: p.offsetSeconds });
//     }
//     stack.workers[0]!.kill('SIGKILL'); await stack.workers[0]!.restart();
//     await stack.redis.kill9(); await stack.redis.restart();         // from its appendonly file
//     await stack.waitFinal(ledger.ids(), { timeoutMs: 300_000, observe: ledger });
//     const report = await ledger.verify();                            // lost, duplicated, changed
//     const health = await stack.health();                             // api, workers, redis
//   } finally {
//     await stack.close();                                             // kills everything, removes temp dirs/db
//   }
//
// Every process's stdout/stderr goes to a log file under `stack.logDir` (JSON lines from the
// services); the workers' job events ('job started', 'job completed', ...) are parsed into
// `stack.jobEvents` for the ledger. `closeAllStacks()` is the runner's safety net.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import knex from 'knex';
import { ff, makeDub, makeProgramme, offsetFilter } from '../../services/cli/src/testing/media-fixtures.ts';
import { descendants, environOf, isRunning, processTable, rssKb } from './proc.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = import.meta.resolve('tsx');
const API_MAIN = path.join(REPO_ROOT, 'services/api/src/main.ts');
const WORKER_MAIN = path.join(REPO_ROOT, 'services/worker/src/main.ts');
export const FFMPEG = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg';
export const FFPROBE = process.env.FFPROBE_PATH ?? '/usr/bin/ffprobe';
export const PG_ADMIN_URL = process.env.CHAOS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A stack's process did not come up (or left) in time. */
export class StackStartError extends Error {
  override readonly name = 'StackStartError';
}

/** A wait in the chaos suite ran out of time. */
export class ChaosTimeoutError extends Error {
  override readonly name = 'ChaosTimeoutError';
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; throws ChaosTimeoutError after timeoutMs. */
export async function until<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs: number, what: string | (() => string), everyMs = 250): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new ChaosTimeoutError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${typeof what === 'function' ? what() : what}`);
    await sleep(everyMs);
  }
}

import { freePort } from '../../e2e/net.ts';
export { freePort };

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() at exit. */
  at: number;
}

/** One line a service logged (JSON lines; anything else is kept as text). */
export interface LogLine {
  at: number;
  process: string;
  pid: number;
  json: Record<string, unknown> | null;
  text: string;
}

/** A worker's job event, parsed from its log. */
export interface JobEvent {
  at: number;
  /** Slot name (worker-1...) and OS pid of the worker process that logged it. */
  worker: string;
  pid: number;
  jobId: string;
  event: 'started' | 'completed' | 'handed_back' | 'stopped' | 'failed';
  attempt: number | null;
}

const JOB_EVENT_MESSAGES: Record<string, JobEvent['event']> = {
  'job started': 'started',
  'job completed': 'completed',
  'job handed back to the queue at shutdown': 'handed_back',
  'job stopped': 'stopped',
  'job failed': 'failed',
  'job failed unexpectedly': 'failed',
};

export interface ServiceProcessOptions {
  name: string;
  kind: 'api' | 'worker';
  entry: string;
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  /** Probe base, e.g. http://127.0.0.1:PORT (readiness at /readyz, liveness at /livez). */
  healthBase: string;
  /** Run under `nice -n N` (nice execs node: the pid is node's). */
  nice?: number;
  /** Pin the process and its children to these CPUs (`taskset -c`, which execs too). */
  cpus?: number[];
  onLine?: (line: LogLine) => void;
}

/**
 * One service process (api or worker): started with an argument vector, restarted in the same
 * slot (same ports and env) as a supervisor would, killed with any signal.
 */
export class ServiceProcess {
  private child: ChildProcess | null = null;
  private out: WriteStream | null = null;
  private exitWaiters: ((e: ExitInfo) => void)[] = [];
  /** Exit of the current process (null while it runs or before the first start). */
  exit: ExitInfo | null = null;
  /** Every pid this slot has had, oldest first. */
  readonly pids: number[] = [];
  /** Every exit of this slot's processes, oldest first. */
  readonly exits: (ExitInfo & { pid: number })[] = [];
  starts = 0;
  startedAt = 0;
  private outputClosed: Promise<void> = Promise.resolve();

  constructor(readonly opts: ServiceProcessOptions) {}

  get name(): string {
    return this.opts.name;
  }
  get pid(): number | null {
    return this.child && this.exit === null ? (this.child.pid ?? null) : null;
  }
  get alive(): boolean {
    return this.pid !== null && isRunning(this.pid);
  }
  get healthBase(): string {
    return this.opts.healthBase;
  }

  start(): void {
    if (this.child && this.exit === null) throw new StackStartError(`${this.name} is already running (pid ${this.child.pid})`);
    this.out ??= createWriteStream(this.opts.logFile, { flags: 'a' });
    // nice and taskset both exec what follows them: the pid stays node's.
    const argv = [
      ...(this.opts.cpus?.length ? ['taskset', '-c', this.opts.cpus.join(',')] : []),
      ...(this.opts.nice !== undefined ? ['nice', '-n', String(this.opts.nice)] : []),
      process.execPath,
      '--import',
      TSX,
      this.opts.entry,
    ];
    const child = spawn(argv[0]!, argv.slice(1), { cwd: this.opts.cwd, env: this.opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exit = null;
    this.starts++;
    this.startedAt = Date.now();
    const pid = child.pid ?? -1;
    this.pids.push(pid);
    this.out.write(`--- ${new Date().toISOString()} start #${this.starts} pid ${pid}\n`);
    for (const stream of [child.stdout!, child.stderr!]) {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        this.out?.write(chunk);
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const text of lines) if (text) this.opts.onLine?.({ at: Date.now(), process: this.name, pid, json: parseJson(text), text });
      });
    }
    this.outputClosed = new Promise((r) => child.once('close', () => r()));
    child.on('error', (err) => this.out?.write(`--- spawn error: ${err.message}\n`));
    child.on('exit', (code, signal) => {
      const e: ExitInfo = { code, signal, at: Date.now() };
      this.exits.push({ ...e, pid });
      if (this.child === child) this.exit = e;
      this.out?.write(`--- ${new Date().toISOString()} pid ${pid} exited code=${code} signal=${signal}\n`);
      const waiters = this.exitWaiters;
      this.exitWaiters = [];
      for (const w of waiters) w(e);
    });
  }

  /** Sends a signal to the process (not its group: its job children must fend for themselves). */
  kill(signal: NodeJS.Signals): number {
    const pid = this.pid;
    if (pid === null) throw new StackStartError(`${this.name} is not running`);
    process.kill(pid, signal);
    return pid;
  }

  /** Resolves with the exit of the current process, or null if it has not exited within timeoutMs. */
  waitExit(timeoutMs: number): Promise<ExitInfo | null> {
    if (this.exit) return Promise.resolve(this.exit);
    if (!this.child) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.exitWaiters = this.exitWaiters.filter((w) => w !== done);
        resolve(null);
      }, timeoutMs);
      const done = (e: ExitInfo) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.exitWaiters.push(done);
    });
  }

  /**
   * Waits until the process's stdout/stderr are closed (every line it wrote has been parsed).
   * Its job children share those pipes, so this also waits for them; false after timeoutMs.
   */
  async waitOutput(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.outputClosed.then(() => true), sleep(timeoutMs).then(() => false)]);
  }

  /** GET healthBase + path with a timeout; status 0 when nothing answered. */
  async probe(pathname: '/readyz' | '/livez' | '/health', timeoutMs = 3_000): Promise<{ status: number; body: Record<string, unknown> | null; ms: number }> {
    const t0 = performance.now();
    try {
      const res = await fetch(`${this.healthBase}${pathname}`, { signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      return { status: res.status, body: parseJson(text), ms: performance.now() - t0 };
    } catch {
      return { status: 0, body: null, ms: performance.now() - t0 };
    }
  }

  /** Waits until /readyz answers 200; fails at once if the process exits meanwhile. */
  async waitReady(timeoutMs = 90_000): Promise<number> {
    const t0 = Date.now();
    await until(async () => {
      if (this.exit) throw new StackStartError(`${this.name} exited while starting (code ${this.exit.code}, signal ${this.exit.signal}); log: ${this.opts.logFile}`);
      return (await this.probe('/readyz', 2_000)).status === 200;
    }, timeoutMs, `${this.name} ready`);
    return Date.now() - t0;
  }

  /** Starts the slot again (after a kill or exit) and waits until it is ready. */
  async restart(timeoutMs = 90_000): Promise<number> {
    if (this.pid !== null && this.alive) {
      this.kill('SIGKILL');
      await this.waitExit(10_000);
    }
    this.start();
    return this.waitReady(timeoutMs);
  }

  /** RSS in kB of the process, plus its descendants (job children, ffmpeg) when asked. */
  rss(includeChildren = false): number | null {
    const pid = this.pid;
    if (pid === null) return null;
    const own = rssKb(pid);
    if (own === null || !includeChildren) return own;
    return own + descendants(pid).reduce((sum, d) => sum + (rssKb(d.pid) ?? 0), 0);
  }

  /** Stops the process: SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.pid === null) return;
    try {
      this.kill('SIGTERM');
    } catch {
      /* already gone */
    }
    if (!(await this.waitExit(graceMs)) && this.pid !== null) {
      try {
        this.kill('SIGKILL');
      } catch {
        /* gone */
      }
      await this.waitExit(5_000);
    }
  }

  async closeLog(): Promise<void> {
    const out = this.out;
    this.out = null;
    if (out) await new Promise<void>((r) => out.end(() => r()));
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  if (!text.startsWith('{')) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Sends one RESP PING on a fresh socket; true on +PONG within timeoutMs. */
export function redisPing(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    s.once('error', () => done(false));
  });
}

/** The stack's own redis-server: appendonly (everysec), noeviction, data in its own dir. */
export class RedisProcess {
  private proc: ChildProcess | null = null;
  private exitInfo: ExitInfo | null = null;
  private out: WriteStream | null = null;
  paused = false;
  readonly pids: number[] = [];

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly logFile: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  get pid(): number | null {
    return this.proc && this.exitInfo === null ? (this.proc.pid ?? null) : null;
  }

  /** Starts redis-server (loading the AOF in its dir, if any) and waits for PONG. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.pid !== null) throw new StackStartError('redis-server is already running');
    await mkdir(this.dir, { recursive: true });
    this.out ??= createWriteStream(this.logFile, { flags: 'a' });
    const args = [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec',
      '--maxmemory', '256mb', '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no', '--logfile', '',
    ];
    const p = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    this.exitInfo = null;
    this.paused = false;
    this.pids.push(p.pid ?? -1);
    p.stdout!.pipe(this.out, { end: false });
    p.stderr!.pipe(this.out, { end: false });
    p.on('exit', (code, signal) => {
      if (this.proc === p) this.exitInfo = { code, signal, at: Date.now() };
    });
    await until(async () => {
      if (this.exitInfo) throw new StackStartError(`redis-server exited at start (code ${this.exitInfo.code}); log: ${this.logFile}`);
      return redisPing(this.port, 500);
    }, timeoutMs, 'redis-server PONG', 50);
  }

  private async waitGone(p: ChildProcess | null, timeoutMs: number): Promise<void> {
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await Promise.race([new Promise((r) => p.once('exit', r)), sleep(timeoutMs)]);
  }

  /** SIGKILL: no shutdown, no final AOF write beyond what `everysec` already flushed. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (this.pid === null || !p) throw new StackStartError('redis-server is not running');
    p.kill('SIGKILL');
    await this.waitGone(p, 10_000);
    this.paused = false;
  }

  /** Starts it again on the same port from the same dir (its appendonly file). */
  async restart(timeoutMs = 30_000): Promise<void> {
    if (this.pid !== null) await this.stop();
    await this.start(timeoutMs);
  }

  /** SIGSTOP: the socket stays open but nothing answers (a hung or partitioned Redis). */
  pause(): void {
    if (this.pid === null) throw new StackStartError('redis-server is not running');
    process.kill(this.pid, 'SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.pid === null) throw new StackStartError('redis-server is not running');
    process.kill(this.pid, 'SIGCONT');
    this.paused = false;
  }

  ping(timeoutMs = 1_000): Promise<boolean> {
    return redisPing(this.port, timeoutMs);
  }

  /** Graceful stop (SIGTERM: redis writes its AOF and exits). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (this.pid === null || !p) return;
    if (this.paused) this.resume();
    p.kill('SIGTERM');
    await this.waitGone(p, 10_000);
    if (this.pid !== null) {
      p.kill('SIGKILL');
      await this.waitGone(p, 5_000);
    }
  }

  async closeLog(): Promise<void> {
    const out = this.out;
    this.out = null;
    if (out) await new Promise<void>((r) => out.end(() => r()));
  }
}

export interface HttpResult {
  /** 0 when nothing answered (connection refused, reset, or timeout). */
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- API answers of any shape
  text: string;
  ms: number;
  /** Why nothing answered (status 0). */
  error: string | null;
}

export interface SubmitResult extends HttpResult {
  /** The analysis id when the API stored it (202/200, or a 503 that says it is stored and will be queued). */
  id: string | null;
  deduplicated: boolean;
}

/** An analysis as GET /api/v1/analyses/:id shows it (the fields the suite reads). */
export interface AnalysisSnapshot {
  id: string;
  status: string;
  master: string;
  dub: string;
  offset_seconds: number | null;
  verdict: string | null;
  attempts: number;
  error: { code: string; message: string } | null;
  result: unknown;
  finished_at: string | null;
}

export const FINAL = new Set(['completed', 'failed', 'cancelled', 'timed_out']);

/** A generated master + dub with its known offset (paths relative to the media root). */
export interface MediaPair {
  master: string;
  dub: string;
  offsetSeconds: number;
  durationSeconds: number;
}

// Generated files are shared by every stack of one run (hard-linked into each media root, so
// the fingerprints, mtimes included, are the same); generation is the slow part.
let mediaCacheDir: Promise<string> | null = null;
const mediaCacheFiles = new Map<string, Promise<string>>();
async function cacheDir(): Promise<string> {
  mediaCacheDir ??= mkdtemp(path.join(os.tmpdir(), 'sa-chaos-media-'));
  return mediaCacheDir;
}
async function cachedFile(name: string, make: (file: string) => Promise<void>): Promise<string> {
  const dir = await cacheDir();
  let p = mediaCacheFiles.get(name);
  if (!p) {
    const file = path.join(dir, name);
    p = make(file).then(() => file);
    mediaCacheFiles.set(name, p);
  }
  return p;
}

export async function removeMediaCache(): Promise<void> {
  if (!mediaCacheDir) return;
  const dir = await mediaCacheDir;
  mediaCacheDir = null;
  mediaCacheFiles.clear();
  await rm(dir, { recursive: true, force: true });
}

// Mono 16 kHz PCM: small files, decoded fast; the engine resamples to its analysis rate anyway.
const CODEC = ['-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le'];

/** Distinct known offsets (seconds, ms resolution, both signs), so no two dubs are identical. */
export function offsetFor(i: number): number {
  // 0.237 s apart modulo 2.4 s, shifted by i ms: distinct for every i < 2400, spread over ±1.2 s.
  const ms = ((i * 237) % 2400) - 1200 + (Math.floor((i * 237) / 2400) % 97);
  return (ms === 0 ? 1 : ms) / 1000;
}

export class MediaFactory {
  constructor(private readonly mediaRoot: string) {}

  private async place(cached: string, name: string): Promise<string> {
    const dest = path.join(this.mediaRoot, name);
    await mkdir(path.dirname(dest), { recursive: true });
    try {
      await link(cached, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return name;
      // Another filesystem (a tmpfs media root): copy instead.
      await copyFile(cached, dest);
    }
    return name;
  }

  /** A master programme (seeded noise + melody), mono 16 kHz WAV. */
  async master(seed: number, durationSeconds: number): Promise<string> {
    const name = `m${seed}-${durationSeconds}s.wav`;
    const cached = await cachedFile(name, (f) => makeProgramme(f, seed, durationSeconds, CODEC));
    return this.place(cached, name);
  }

  private static dubName(seed: number, durationSeconds: number, offsetSeconds: number): string {
    const ms = Math.round(offsetSeconds * 1000);
    return `m${seed}-${durationSeconds}s-dub${ms >= 0 ? '+' : ''}${ms}ms.wav`;
  }

  /** A dub of that master, shifted by offsetSeconds (positive: late) and EQ'd. */
  async dub(seed: number, durationSeconds: number, offsetSeconds: number): Promise<string> {
    const master = await this.master(seed, durationSeconds);
    const name = MediaFactory.dubName(seed, durationSeconds, offsetSeconds);
    const cached = await cachedFile(name, (f) => makeDub(path.join(this.mediaRoot, master), f, offsetSeconds, { codecArgs: CODEC }));
    return this.place(cached, name);
  }

  /**
   * `count` pairs on one master, each dub with its own offset (offsetFor(first + i)). Missing
   * dubs are made DUBS_PER_FFMPEG at a time by one ffmpeg (one decode, many outputs): a process
   * per file is what makes generation slow on a loaded machine.
   */
  async pairs(o: { count: number; seed?: number; durationSeconds?: number; first?: number }): Promise<MediaPair[]> {
    const seed = o.seed ?? 7;
    const duration = o.durationSeconds ?? 8;
    const master = await this.master(seed, duration);
    const offsets = Array.from({ length: o.count }, (_, i) => offsetFor((o.first ?? 0) + i));
    const missing = [...new Set(offsets)].filter((off) => !mediaCacheFiles.has(MediaFactory.dubName(seed, duration, off)));
    const dir = await cacheDir();
    const chunks: number[][] = [];
    for (let i = 0; i < missing.length; i += DUBS_PER_FFMPEG) chunks.push(missing.slice(i, i + DUBS_PER_FFMPEG));
    const source = path.join(this.mediaRoot, master);
    let running = Promise.resolve();
    for (const chunk of chunks) {
      // One ffmpeg at a time: they already use every core.
      const made = running.then(() => ff(['-i', source, ...chunk.flatMap((off) => ['-af', [offsetFilter(off), ...DUB_FILTERS].join(','), ...CODEC, path.join(dir, MediaFactory.dubName(seed, duration, off))])]));
      running = made.catch(() => undefined);
      for (const off of chunk) {
        const name = MediaFactory.dubName(seed, duration, off);
        mediaCacheFiles.set(name, made.then(() => path.join(dir, name)));
      }
    }
    return Promise.all(offsets.map(async (off) => ({ master, dub: await this.dub(seed, duration, off), offsetSeconds: off, durationSeconds: duration })));
  }
}

/** Dubs generated by one ffmpeg run. */
const DUBS_PER_FFMPEG = 25;
/** The same colouring as media-fixtures' makeDub default (EQ dip, gain). */
const DUB_FILTERS = ['equalizer=f=2500:t=q:w=1:g=-5', 'volume=0.8'];

export interface ChaosStackOptions {
  /** Scenario name: part of the temp dir, queue prefix and database name. */
  name: string;
  /** Worker processes (default 1). */
  workers?: number;
  /** 'sqlite' (default: a temp file under DATA_DIR) or 'postgres' (a uniquely named database, dropped at close). */
  database?: 'sqlite' | 'postgres';
  /** Run the workers under `nice -n N` (e.g. 10 while measuring the API). */
  workerNice?: number;
  /** CPUs for the n-th worker (0-based), e.g. one core each to stand for separate hosts. */
  workerCpus?: (index: number) => number[] | undefined;
  /** JOB_LOCK_SECONDS (default 4): a killed worker's job is re-run after about this long. */
  jobLockSeconds?: number;
  /** SHUTDOWN_DEADLINE_SECONDS (default 10). */
  shutdownDeadlineSeconds?: number;
  /** Env for every service process (overrides the defaults). */
  env?: Record<string, string>;
  apiEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
  /** OUTPUT_ROOT elsewhere (e.g. a small tmpfs); default <dir>/media/output. */
  outputRoot?: string;
  /** Start the API (default true). */
  api?: boolean;
  /** Seconds to wait for each process to become ready (default 120: the machine is shared). */
  readyTimeoutSeconds?: number;
}

export interface StackHealth {
  healthy: boolean;
  api: { status: number; checks: unknown };
  workers: { name: string; status: number; checks: unknown }[];
  redis: boolean;
  detail: string;
}

const openStacks = new Set<ChaosStack>();

/** Closes every stack still open (the runner's safety net after a scenario throws or times out). */
export async function closeAllStacks(): Promise<void> {
  await Promise.allSettled([...openStacks].map((s) => s.close()));
}

export class ChaosStack {
  readonly logDir: string;
  readonly mediaRoot: string;
  readonly outputRoot: string;
  readonly dataDir: string;
  readonly prefix: string;
  readonly apiKey = `chaos-${randomBytes(12).toString('hex')}`;
  readonly media: MediaFactory;
  readonly redis: RedisProcess;
  api!: ServiceProcess;
  readonly workers: ServiceProcess[] = [];
  /** Every job event the workers logged, in arrival order. */
  readonly jobEvents: JobEvent[] = [];
  /** Last log lines of every process (for failure messages); full logs are in logDir. */
  readonly recentLines: LogLine[] = [];
  /** DATABASE_URL (PostgreSQL) or null for SQLite. */
  databaseUrl: string | null = null;
  private pgName: string | null = null;
  private closed = false;
  private lineListeners = new Set<(l: LogLine) => void>();

  private constructor(
    readonly opts: ChaosStackOptions,
    readonly dir: string,
    redisPort: number,
  ) {
    this.logDir = path.join(dir, 'logs');
    this.mediaRoot = path.join(dir, 'media');
    this.outputRoot = opts.outputRoot ?? path.join(this.mediaRoot, 'output');
    this.dataDir = path.join(dir, 'data');
    this.prefix = `chaos-${opts.name.replace(/[^A-Za-z0-9_.-]/g, '-')}-${randomBytes(4).toString('hex')}`;
    this.media = new MediaFactory(this.mediaRoot);
    this.redis = new RedisProcess(redisPort, path.join(dir, 'redis'), path.join(this.logDir, 'redis.log'));
  }

  /** The SQLite file (when the database is SQLite). */
  get sqliteFile(): string | null {
    return this.databaseUrl ? null : path.join(this.dataDir, 'sync-analyzer.sqlite');
  }

  get readyTimeoutMs(): number {
    return (this.opts.readyTimeoutSeconds ?? 120) * 1000;
  }

  static async start(opts: ChaosStackOptions): Promise<ChaosStack> {
    const dir = await mkdtemp(path.join(os.tmpdir(), `sa-chaos-${opts.name}-`));
    const stack = new ChaosStack(opts, dir, await freePort());
    openStacks.add(stack);
    try {
      await Promise.all([stack.logDir, stack.mediaRoot, stack.outputRoot, stack.dataDir].map((d) => mkdir(d, { recursive: true })));
      if (opts.database === 'postgres') await stack.createPgDatabase();
      await stack.redis.start();
      if (opts.api !== false) {
        stack.api = await stack.makeApi();
        stack.api.start();
      }
      for (let i = 0; i < (opts.workers ?? 1); i++) stack.workers.push(await stack.makeWorker());
      for (const w of stack.workers) w.start();
      await Promise.all([...(opts.api !== false ? [stack.api] : []), ...stack.workers].map((p) => p.waitReady(stack.readyTimeoutMs)));
      return stack;
    } catch (e) {
      await stack.close();
      throw e;
    }
  }

  private async createPgDatabase(): Promise<void> {
    const name = `chaos_${this.opts.name.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
    const admin = knex({ client: 'pg', connection: PG_ADMIN_URL, pool: { min: 0, max: 1 } });
    try {
      await admin.raw(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.destroy();
    }
    this.pgName = name;
    const u = new URL(PG_ADMIN_URL);
    u.pathname = `/${name}`;
    this.databaseUrl = u.toString();
  }

  private async dropPgDatabase(): Promise<void> {
    if (!this.pgName) return;
    const admin = knex({ client: 'pg', connection: PG_ADMIN_URL, pool: { min: 0, max: 1 } });
    try {
      await admin.raw(`DROP DATABASE IF EXISTS "${this.pgName}" WITH (FORCE)`);
      this.pgName = null;
    } finally {
      await admin.destroy();
    }
  }

  /** Environment every service process gets (the variables of e2e/harness.ts spawnWorkerProcess). */
  baseEnv(): Record<string, string> {
    const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
    return {
      ...inherited,
      NODE_ENV: 'test',
      MOUNT_PATH: this.mediaRoot,
      OUTPUT_ROOT: this.outputRoot,
      DATA_DIR: this.dataDir,
      REDIS_URL: this.redis.url,
      QUEUE_PREFIX: this.prefix,
      FFMPEG_PATH: FFMPEG,
      FFPROBE_PATH: FFPROBE,
      LOG_LEVEL: 'info',
      DISK_MIN_FREE_MB: '1',
      SPEECH_DETECTION: 'false',
      ONNXRUNTIME_NODE_INSTALL: 'skip',
      API_KEYS: this.apiKey,
      RATE_LIMIT_PER_MINUTE: '10000000',
      JOB_LOCK_SECONDS: String(this.opts.jobLockSeconds ?? 4),
      SHUTDOWN_DEADLINE_SECONDS: String(this.opts.shutdownDeadlineSeconds ?? 10),
      ...(this.databaseUrl ? { DATABASE_URL: this.databaseUrl } : { DATABASE_URL: '' }),
      ...(this.opts.env ?? {}),
    };
  }

  private onLine(l: LogLine): void {
    this.recentLines.push(l);
    if (this.recentLines.length > 400) this.recentLines.splice(0, 200);
    const j = l.json;
    if (j && j.service === 'worker' && typeof j.message === 'string' && typeof j.jobId === 'string') {
      const event = JOB_EVENT_MESSAGES[j.message];
      const at = typeof j.timestamp === 'string' ? Date.parse(j.timestamp) : l.at;
      if (event) this.jobEvents.push({ at: Number.isFinite(at) ? at : l.at, worker: l.process, pid: l.pid, jobId: j.jobId, event, attempt: typeof j.attempt === 'number' ? j.attempt : null });
    }
    for (const f of this.lineListeners) f(l);
  }

  /** Calls f for every log line of every process until the returned function is called. */
  onLogLine(f: (l: LogLine) => void): () => void {
    this.lineListeners.add(f);
    return () => this.lineListeners.delete(f);
  }

  private async makeApi(): Promise<ServiceProcess> {
    const port = await freePort();
    return new ServiceProcess({
      name: 'api',
      kind: 'api',
      entry: API_MAIN,
      cwd: this.dir,
      env: { ...this.baseEnv(), PORT: String(port), ...(this.opts.apiEnv ?? {}) },
      logFile: path.join(this.logDir, 'api.log'),
      healthBase: `http://127.0.0.1:${port}`,
      onLine: (l) => this.onLine(l),
    });
  }

  private async makeWorker(): Promise<ServiceProcess> {
    const port = await freePort();
    const name = `worker-${this.workers.length + 1}`;
    const cpus = this.opts.workerCpus?.(this.workers.length);
    return new ServiceProcess({
      name,
      kind: 'worker',
      entry: WORKER_MAIN,
      cwd: this.dir,
      env: { ...this.baseEnv(), WORKER_HEALTH_PORT: String(port), ...(this.opts.workerEnv ?? {}) },
      logFile: path.join(this.logDir, `${name}.log`),
      healthBase: `http://127.0.0.1:${port}`,
      ...(this.opts.workerNice !== undefined ? { nice: this.opts.workerNice } : {}),
      ...(cpus ? { cpus } : {}),
      onLine: (l) => this.onLine(l),
    });
  }

  /** Adds and starts one more worker process (its own health port); resolves when ready. */
  async addWorker(): Promise<ServiceProcess> {
    const w = await this.makeWorker();
    this.workers.push(w);
    w.start();
    await w.waitReady(this.readyTimeoutMs);
    return w;
  }

  get apiBase(): string {
    return this.api.healthBase;
  }

  /** Headers an API client sends (auth is on, with a key of this stack). */
  get authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.apiKey}` };
  }

  /** One HTTP request to the API; never throws for network errors (status 0 instead). */
  async request(method: string, url: string, body?: unknown, o: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    const t0 = performance.now();
    try {
      const res = await fetch(`${this.apiBase}${url}`, {
        method,
        headers: { ...this.authHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(o.headers ?? {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      return { status: res.status, body: parsed, text, ms: performance.now() - t0, error: null };
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      return { status: 0, body: null, text: '', ms: performance.now() - t0, error: err.name === 'TimeoutError' ? 'timeout' : (err.cause?.code ?? err.message) };
    }
  }

  /** POST /api/v1/analyses. */
  async submitAnalysis(master: string, dub: string, options: Record<string, unknown> = {}, priority?: 'urgent' | 'normal' | 'batch', timeoutMs?: number): Promise<SubmitResult> {
    const r = await this.request('POST', '/api/v1/analyses', { master, dub, options, ...(priority ? { priority } : {}) }, timeoutMs ? { timeoutMs } : {});
    const id = (r.body?.analysis?.id as string | undefined) ?? (r.status === 503 ? ((r.body?.error?.details?.id as string | undefined) ?? null) : null);
    return { ...r, id, deduplicated: r.body?.deduplicated === true };
  }

  /** GET /api/v1/analyses/:id (null when the API did not answer 200). */
  async getAnalysis(id: string): Promise<AnalysisSnapshot | null> {
    const r = await this.request('GET', `/api/v1/analyses/${id}`);
    return r.status === 200 ? (r.body.analysis as AnalysisSnapshot) : null;
  }

  /** Ids of analyses the API lists as queued or running (null when the API did not answer). */
  async unfinishedIds(): Promise<Set<string> | null> {
    const out = new Set<string>();
    for (const status of ['queued', 'running']) {
      for (let offset = 0; ; offset += 500) {
        const r = await this.request('GET', `/api/v1/analyses?status=${status}&limit=500&offset=${offset}`, undefined, { timeoutMs: 30_000 });
        if (r.status !== 200) return null;
        const items = r.body.items as { id: string }[];
        for (const it of items) out.add(it.id);
        if (items.length < 500) break;
      }
    }
    return out;
  }

  /**
   * Waits until every id is in a final state as the API shows it: ids no longer listed as queued
   * or running are confirmed one by one with GET (so a lost id never counts as final). API errors
   * are retried (the API may be down on purpose). `observe` runs every round (ledger snapshots).
   */
  async waitFinal(ids: readonly string[], o: { timeoutMs: number; everyMs?: number; observe?: { observe(): Promise<void> } }): Promise<Map<string, AnalysisSnapshot>> {
    const done = new Map<string, AnalysisSnapshot>();
    await until(async () => {
      await o.observe?.observe();
      const unfinished = await this.unfinishedIds();
      if (!unfinished) return false;
      for (const id of ids) {
        if (done.has(id) || unfinished.has(id)) continue;
        const a = await this.getAnalysis(id);
        if (a && FINAL.has(a.status)) done.set(id, a);
      }
      return done.size === ids.length;
    }, o.timeoutMs, () => `${ids.length} analyses final (${done.size} are)`, o.everyMs ?? 1_000);
    await o.observe?.observe();
    return done;
  }

  /** api /readyz, every worker's /readyz, Redis PING. */
  async health(): Promise<StackHealth> {
    const [api, workers, redis] = await Promise.all([
      this.opts.api !== false ? this.api.probe('/readyz') : Promise.resolve({ status: 200, body: null, ms: 0 }),
      Promise.all(this.workers.map(async (w) => ({ w, r: await w.probe('/readyz') }))),
      this.redis.ping(2_000),
    ]);
    const failing = [
      ...(api.status !== 200 ? [`api /readyz ${api.status} ${JSON.stringify(api.body?.checks ?? null)}`] : []),
      ...workers.filter((x) => x.r.status !== 200).map((x) => `${x.w.name} /readyz ${x.r.status} ${JSON.stringify(x.r.body?.checks ?? null)}`),
      ...(redis ? [] : ['redis: no PONG']),
    ];
    return {
      healthy: failing.length === 0,
      api: { status: api.status, checks: api.body?.checks ?? null },
      workers: workers.map((x) => ({ name: x.w.name, status: x.r.status, checks: x.r.body?.checks ?? null })),
      redis,
      detail: failing.join('; ') || 'api, workers ready; redis PONG',
    };
  }

  /** Waits until health() is healthy; returns the milliseconds it took. */
  async waitHealthy(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    let last: StackHealth | null = null;
    try {
      await until(async () => (last = await this.health()).healthy, timeoutMs, 'stack healthy', 200);
    } catch (e) {
      throw new ChaosTimeoutError(`${(e as Error).message}: ${last ? (last as StackHealth).detail : 'no answer'}`);
    }
    return Date.now() - t0;
  }

  /** The jobs a worker process is running now, from its /health (jobId, stage, percent). */
  async activeJobs(w: ServiceProcess): Promise<{ jobId: string; kind: string; stage: string; percent: number; runningSeconds: number }[]> {
    const h = await w.probe('/health', 2_000);
    const worker = h.body?.worker as { active?: { jobId: string; kind: string; stage: string; percent: number; runningSeconds: number }[] } | undefined;
    return worker?.active ?? [];
  }

  /** Submits every pair; records each stored id with its known offset. Returns the refusals. */
  async submitPairs(pairs: readonly MediaPair[], recorder: { record(id: string, e: { offsetSeconds: number }): void }, options: Record<string, unknown> = {}): Promise<{ accepted: string[]; refused: SubmitResult[] }> {
    const accepted: string[] = [];
    const refused: SubmitResult[] = [];
    for (const p of pairs) {
      const r = await this.submitAnalysis(p.master, p.dub, options);
      if (r.id) recorder.record(r.id, { offsetSeconds: p.offsetSeconds });
      if (r.id && (r.status === 202 || r.status === 200)) accepted.push(r.id);
      else refused.push(r);
    }
    return { accepted, refused };
  }

  /**
   * Waits until worker w runs an analysis (not in `exclude`) whose job child has started work
   * (reported a stage), and returns it with the worker's job processes at that moment.
   */
  async waitForRunningAnalysis(w: ServiceProcess, o: { exclude?: ReadonlySet<string>; timeoutMs: number; maxPercent?: number }): Promise<{ jobIds: string[]; procs: ReturnType<ChaosStack['jobProcesses']> }> {
    return until(async () => {
      if (!w.alive) return null;
      const active = (await this.activeJobs(w)).filter((a) => a.jobId.startsWith('an_') && a.stage !== 'queued' && !o.exclude?.has(a.jobId) && (o.maxPercent === undefined || a.percent <= o.maxPercent));
      if (active.length === 0) return null;
      const procs = this.jobProcesses(w);
      return procs.children.length > 0 ? { jobIds: active.map((a) => a.jobId), procs } : null;
    }, o.timeoutMs, `${w.name} running an analysis`, 100);
  }

  /** The job children of a worker (direct children in their own process group) and every member of those groups. */
  jobProcesses(w: ServiceProcess): { children: number[]; groups: number[]; members: number[] } {
    const pid = w.pid;
    if (pid === null) return { children: [], groups: [], members: [] };
    const table = processTable();
    const kids = descendants(pid, table).filter((d) => d.ppid === pid && d.pgid === d.pid);
    const groups = kids.map((k) => k.pgid);
    const members = [...table.values()].filter((e) => groups.includes(e.pgid) && e.state !== 'Z').map((e) => e.pid);
    return { children: kids.map((k) => k.pid), groups, members };
  }

  /**
   * Processes started on behalf of this stack (their environment carries its QUEUE_PREFIX: job
   * children and their ffmpeg) that belong to no live service process: orphans.
   */
  strayProcesses(): number[] {
    const table = processTable();
    const owned = new Set<number>();
    for (const p of [...(this.opts.api !== false && this.api ? [this.api] : []), ...this.workers]) {
      const pid = p.pid;
      if (pid === null) continue;
      owned.add(pid);
      for (const d of descendants(pid, table)) owned.add(d.pid);
    }
    const mine: number[] = [];
    for (const e of table.values()) {
      if (owned.has(e.pid) || e.pid === process.pid || e.state === 'Z') continue;
      if (environOf(e.pid, 'QUEUE_PREFIX') === this.prefix) mine.push(e.pid);
    }
    return mine;
  }

  /** Every exit of every service process (pid, signal, time): the ledger explains re-runs with them. */
  processExits(): (ExitInfo & { pid: number; process: string })[] {
    return [...(this.api ? [this.api] : []), ...this.workers].flatMap((p) => p.exits.map((e) => ({ ...e, process: p.name })));
  }

  /** Sizes of the log files (for the report). */
  async logSizes(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const p of [this.api, ...this.workers]) if (p) out[p.name] = (await stat(p.opts.logFile).catch(() => ({ size: 0 }))).size;
    return out;
  }

  /**
   * Kills everything this stack started (service processes, stray job processes, redis-server),
   * drops its PostgreSQL database, copies its logs to the run's log archive (setLogArchive) and
   * removes its temp dir.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    openStacks.delete(this);
    const procs = [...(this.api ? [this.api] : []), ...this.workers];
    await Promise.allSettled(procs.map((p) => p.stop(3_000)));
    for (const pid of this.strayProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await this.redis.stop().catch(() => undefined);
    await Promise.allSettled([...procs.map((p) => p.closeLog()), this.redis.closeLog()]);
    await this.dropPgDatabase().catch(() => undefined);
    if (logArchive) {
      const dest = path.join(logArchive, path.basename(this.dir));
      await mkdir(dest, { recursive: true });
      for (const f of await readdir(this.logDir).catch(() => [])) await copyFile(path.join(this.logDir, f), path.join(dest, f)).catch(() => undefined);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

let logArchive: string | null = null;

/** Every stack closed from now on copies its process logs into dir/<stack dir name>/. */
export function setLogArchive(dir: string | null): void {
  logArchive = dir;
}
