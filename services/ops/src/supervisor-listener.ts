// supervisord event listener (native mode, start_all.sh): subscribed to PROCESS_STATE events, it
// logs every state change as one JSON line (stderr: stdout is the protocol channel) and keeps
// logs/process_status.json current: per process its state, pid, restarts, and the last exit
// and last FATAL with the reason supervisord gave ("terminated by SIGKILL", "exit status 1").
//
// Protocol (http://supervisord.org/events.html): write "READY\n"; read a header line of
// space-separated key:value tokens whose `len` is the payload's byte length; read the payload;
// answer "RESULT 2\nOK"; repeat. A listener that never answers stalls supervisord's event
// buffer, so every event is acknowledged, even one that could not be handled.
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';

export class ListenerProtocolError extends Error {
  override readonly name = 'ListenerProtocolError';
}

/** "ver:3.0 server:supervisor len:54" -> { ver: '3.0', server: 'supervisor', len: '54' } */
export function parseTokens(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const token of text.trim().split(/\s+/)) {
    if (!token) continue;
    const i = token.indexOf(':');
    if (i <= 0) throw new ListenerProtocolError(`malformed token "${token}" in "${text.trim()}"`);
    out[token.slice(0, i)] = token.slice(i + 1);
  }
  return out;
}

export interface SupervisorEvent {
  header: Record<string, string>;
  eventname: string;
  payload: string;
}

export interface ExitRecord {
  at: string;
  pid: number | null;
  expected: boolean;
  from_state: string;
  /** From supervisord's log: "terminated by SIGKILL", "exit status 1"; null when not found. */
  reason: string | null;
}

export interface FatalRecord {
  at: string;
  from_state: string;
  reason: string | null;
}

export interface ProcessStatus {
  group: string;
  state: string;
  pid: number | null;
  /** When the current state was entered. */
  since: string;
  /** Starts supervisord made by itself after an exit or a failed start (not operator starts). */
  restarts: number;
  exits: number;
  fatals: number;
  last_exit: ExitRecord | null;
  last_fatal: FatalRecord | null;
}

export interface StatusDocument {
  updated_at: string;
  processes: Record<string, ProcessStatus>;
}

export interface TrackerOptions {
  /** Where the status document is written (atomically). */
  file: string;
  /** supervisord's own log, read for the exit reason of EXITED and FATAL events. */
  supervisordLog?: string | null;
  now?: () => Date;
}

/** Reads the last `bytes` of a file (supervisord's log can be large). */
function tail(file: string, bytes = 64 * 1024): string {
  const size = statSync(file).size;
  const start = Math.max(0, size - bytes);
  const buf = Buffer.alloc(size - start);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, start);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}

export class ProcessStatusTracker {
  readonly doc: StatusDocument;
  private readonly now: () => Date;

  constructor(private readonly opts: TrackerOptions) {
    this.now = opts.now ?? (() => new Date());
    this.doc = { updated_at: this.now().toISOString(), processes: {} };
    // A restarted listener keeps the counts it had (start_all.sh removes the file for a fresh run).
    if (existsSync(opts.file)) {
      try {
        const prev = JSON.parse(readFileSync(opts.file, 'utf8')) as StatusDocument;
        if (prev && typeof prev.processes === 'object') this.doc.processes = prev.processes;
      } catch {
        // A damaged file is replaced by the next write.
      }
    }
  }

  /** Why a process exited or gave up, from supervisord's log line about it. */
  private reason(kind: 'exited' | 'fatal', name: string): string | null {
    const log = this.opts.supervisordLog;
    if (!log || !existsSync(log)) return null;
    try {
      const lines = tail(log).split('\n').reverse();
      const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const re = kind === 'exited' ? new RegExp(`exited: ${esc} \\((.*)\\)\\s*$`) : new RegExp(`gave up: ${esc} (.*)$`);
      for (const l of lines) {
        const m = l.match(re);
        if (m) return m[1]!.trim();
      }
    } catch {
      // Best effort: the state change is recorded without a reason.
    }
    return null;
  }

  /** Applies one PROCESS_STATE_* event; returns the log record for it (null for other events). */
  apply(ev: SupervisorEvent): Record<string, unknown> | null {
    if (!ev.eventname.startsWith('PROCESS_STATE_')) return null;
    const state = ev.eventname.slice('PROCESS_STATE_'.length);
    const p = parseTokens(ev.payload);
    const name = p.processname;
    if (!name) throw new ListenerProtocolError(`no processname in "${ev.payload}"`);
    const at = this.now().toISOString();
    const pid = p.pid !== undefined && Number(p.pid) > 0 ? Number(p.pid) : null;
    const fromState = p.from_state ?? 'UNKNOWN';
    const cur: ProcessStatus = this.doc.processes[name] ?? { group: p.groupname ?? name, state: fromState, pid: null, since: at, restarts: 0, exits: 0, fatals: 0, last_exit: null, last_fatal: null };
    cur.group = p.groupname ?? cur.group;
    cur.state = state;
    cur.since = at;
    const record: Record<string, unknown> = { time: at, event: ev.eventname, process: name, group: cur.group, from_state: fromState };
    switch (state) {
      case 'STARTING':
        cur.pid = null;
        if (fromState === 'EXITED' || fromState === 'BACKOFF') cur.restarts += 1;
        record.tries = Number(p.tries ?? 0);
        break;
      case 'RUNNING':
      case 'STOPPING':
        cur.pid = pid;
        record.pid = pid;
        break;
      case 'EXITED': {
        const exit: ExitRecord = { at, pid, expected: p.expected === '1', from_state: fromState, reason: this.reason('exited', name) };
        cur.exits += 1;
        cur.last_exit = exit;
        cur.pid = null;
        Object.assign(record, { pid, expected: exit.expected, reason: exit.reason });
        break;
      }
      case 'FATAL': {
        const fatal: FatalRecord = { at, from_state: fromState, reason: this.reason('fatal', name) };
        cur.fatals += 1;
        cur.last_fatal = fatal;
        cur.pid = null;
        record.reason = fatal.reason;
        break;
      }
      case 'BACKOFF':
        cur.pid = null;
        record.tries = Number(p.tries ?? 0);
        break;
      default:
        // STOPPED, UNKNOWN
        cur.pid = null;
        if (pid) record.pid = pid;
    }
    this.doc.processes[name] = cur;
    this.doc.updated_at = at;
    this.write();
    return record;
  }

  write(): void {
    const tmp = `${this.opts.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.doc, null, 2) + '\n');
    // rename: readers never see a half-written file.
    renameSync(tmp, this.opts.file);
  }
}

/**
 * Speaks the listener protocol on input/output until input ends, calling handle() for each
 * event. handle()'s errors are reported through onError and the event is still acknowledged.
 */
export function runListener(input: Readable, output: Writable, handle: (ev: SupervisorEvent) => void, onError: (err: Error) => void = () => undefined): Promise<void> {
  let buf = Buffer.alloc(0);
  let header: Record<string, string> | null = null;
  let need = 0;
  output.write('READY\n');
  const pump = () => {
    for (;;) {
      if (!header) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString('utf8');
        buf = buf.subarray(nl + 1);
        if (!line.trim()) continue;
        header = parseTokens(line);
        need = Number(header.len);
        if (!Number.isInteger(need) || need < 0) throw new ListenerProtocolError(`bad len in header "${line}"`);
      }
      if (buf.length < need) return;
      const payload = buf.subarray(0, need).toString('utf8');
      buf = buf.subarray(need);
      const ev: SupervisorEvent = { header, eventname: header.eventname ?? '', payload };
      header = null;
      try {
        handle(ev);
      } catch (e) {
        onError(e as Error);
      }
      output.write('RESULT 2\nOKREADY\n');
    }
  };
  return new Promise<void>((resolve, reject) => {
    input.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        pump();
      } catch (e) {
        reject(e as Error);
      }
    });
    input.on('end', () => resolve());
    input.on('error', reject);
  });
}

function parseCli(argv: string[]): { statusFile: string; supervisordLog: string | null } {
  let statusFile: string | null = null;
  let supervisordLog: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--status-file') statusFile = argv[++i] ?? null;
    else if (argv[i] === '--supervisord-log') supervisordLog = argv[++i] ?? null;
    else throw new ListenerProtocolError(`unknown argument "${argv[i]}" (usage: supervisor-listener --status-file FILE [--supervisord-log FILE])`);
  }
  if (!statusFile) throw new ListenerProtocolError('--status-file FILE is required');
  return { statusFile: path.resolve(statusFile), supervisordLog: supervisordLog ? path.resolve(supervisordLog) : null };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const log = (obj: Record<string, unknown>) => process.stderr.write(JSON.stringify(obj) + '\n');
  try {
    const { statusFile, supervisordLog } = parseCli(process.argv.slice(2));
    const tracker = new ProcessStatusTracker({ file: statusFile, supervisordLog });
    tracker.write();
    log({ time: new Date().toISOString(), event: 'listener_started', pid: process.pid, status_file: statusFile });
    runListener(
      process.stdin,
      process.stdout,
      (ev) => {
        const rec = tracker.apply(ev);
        if (rec) log(rec);
      },
      (err) => log({ time: new Date().toISOString(), event: 'listener_error', error: err.message }),
    ).then(
      () => process.exit(0),
      (err: unknown) => {
        log({ time: new Date().toISOString(), event: 'listener_failed', error: String(err) });
        process.exit(1);
      },
    );
  } catch (e) {
    log({ time: new Date().toISOString(), event: 'listener_failed', error: (e as Error).message });
    process.exit(2);
  }
}
