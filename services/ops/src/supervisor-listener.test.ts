// The supervisord event listener: token parsing, the status document's bookkeeping, the wire
// protocol against the real listener process (events split across reads, several in one read),
// and a real supervisord that restarts a SIGKILLed program while the listener records it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTokens, ProcessStatusTracker, ListenerProtocolError, type StatusDocument } from './supervisor-listener.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LISTENER = path.join(HERE, 'supervisor-listener.ts');
const TSX = fileURLToPath(import.meta.resolve('tsx'));

const until = async <T>(fn: () => T | null | undefined | false, timeoutMs: number, what: string): Promise<T> => {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const ev = (eventname: string, payload: string) => ({ header: { eventname, len: String(Buffer.byteLength(payload)) }, eventname, payload });

test('parseTokens splits key:value tokens and keeps colons inside values', () => {
  assert.deepEqual(parseTokens('ver:3.0 server:supervisor serial:21 eventname:PROCESS_STATE_RUNNING len:54\n'), { ver: '3.0', server: 'supervisor', serial: '21', eventname: 'PROCESS_STATE_RUNNING', len: '54' });
  assert.deepEqual(parseTokens('processname:api groupname:api from_state:STARTING pid:42'), { processname: 'api', groupname: 'api', from_state: 'STARTING', pid: '42' });
  assert.deepEqual(parseTokens('url:http://x:1'), { url: 'http://x:1' });
  assert.throws(() => parseTokens('garbage'), ListenerProtocolError);
});

test('tracker: restarts, exits with the reason from supervisord.log, FATAL, and an atomic, current file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sa-listener-'));
  try {
    const file = path.join(dir, 'process_status.json');
    const slog = path.join(dir, 'supervisord.log');
    writeFileSync(slog, '2026-11-29 00:00:00,000 INFO spawned: \'worker\' with pid 100\n2026-11-29 00:00:09,000 WARN exited: worker (terminated by SIGKILL; not expected)\n');
    let t = Date.parse('2026-11-29T00:00:00Z');
    const tr = new ProcessStatusTracker({ file, supervisordLog: slog, now: () => new Date((t += 1000)) });
    tr.apply(ev('PROCESS_STATE_STARTING', 'processname:worker groupname:worker from_state:STOPPED tries:0'));
    tr.apply(ev('PROCESS_STATE_RUNNING', 'processname:worker groupname:worker from_state:STARTING pid:100'));
    let doc = JSON.parse(readFileSync(file, 'utf8')) as StatusDocument;
    assert.equal(doc.processes.worker!.state, 'RUNNING');
    assert.equal(doc.processes.worker!.pid, 100);
    assert.equal(doc.processes.worker!.restarts, 0, 'a start from STOPPED is not a restart');
    const rec = tr.apply(ev('PROCESS_STATE_EXITED', 'processname:worker groupname:worker from_state:RUNNING expected:0 pid:100'));
    assert.equal(rec!.reason, 'terminated by SIGKILL; not expected');
    tr.apply(ev('PROCESS_STATE_STARTING', 'processname:worker groupname:worker from_state:EXITED tries:0'));
    tr.apply(ev('PROCESS_STATE_RUNNING', 'processname:worker groupname:worker from_state:STARTING pid:101'));
    doc = JSON.parse(readFileSync(file, 'utf8')) as StatusDocument;
    const w = doc.processes.worker!;
    assert.deepEqual([w.state, w.pid, w.restarts, w.exits], ['RUNNING', 101, 1, 1]);
    assert.deepEqual(w.last_exit, { at: '2026-11-29T00:00:04.000Z', pid: 100, expected: false, from_state: 'RUNNING', reason: 'terminated by SIGKILL; not expected' });

    writeFileSync(slog, '2026-11-29 00:01:00,000 INFO gave up: api entered FATAL state, too many start retries too quickly\n', { flag: 'a' });
    tr.apply(ev('PROCESS_STATE_BACKOFF', 'processname:api groupname:api from_state:STARTING tries:5'));
    tr.apply(ev('PROCESS_STATE_FATAL', 'processname:api groupname:api from_state:BACKOFF'));
    doc = JSON.parse(readFileSync(file, 'utf8')) as StatusDocument;
    assert.equal(doc.processes.api!.state, 'FATAL');
    assert.equal(doc.processes.api!.fatals, 1);
    assert.equal(doc.processes.api!.last_fatal!.reason, 'entered FATAL state, too many start retries too quickly');
    assert.equal(doc.processes.worker!.state, 'RUNNING', 'other processes kept');
    assert.equal(tr.apply(ev('TICK_5', 'when:1')), null, 'non-state events are ignored');

    // A restarted listener continues from the file instead of resetting the counts.
    const again = new ProcessStatusTracker({ file });
    again.apply(ev('PROCESS_STATE_STARTING', 'processname:worker groupname:worker from_state:EXITED tries:0'));
    assert.equal(again.doc.processes.worker!.restarts, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('protocol: READY first, RESULT 2 OK per event, whether events arrive split or together', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sa-listener-'));
  const file = path.join(dir, 'status.json');
  const child = spawn(process.execPath, ['--import', TSX, LISTENER, '--status-file', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    await until(() => out === 'READY\n', 20_000, `READY (stdout ${JSON.stringify(out)}, stderr ${err})`);
    const msg = (serial: number, eventname: string, payload: string) => `ver:3.0 server:supervisor serial:${serial} pool:status poolserial:${serial} eventname:${eventname} len:${Buffer.byteLength(payload)}\n${payload}`;
    const first = msg(1, 'PROCESS_STATE_RUNNING', 'processname:api groupname:api from_state:STARTING pid:4242');
    // Split inside the header and inside the payload.
    child.stdin.write(first.slice(0, 10));
    await new Promise((r) => setTimeout(r, 50));
    child.stdin.write(first.slice(10, first.length - 5));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(out, 'READY\n', 'no answer before the whole payload arrived');
    child.stdin.write(first.slice(first.length - 5));
    await until(() => out === 'READY\nRESULT 2\nOKREADY\n', 5_000, `first ack (got ${JSON.stringify(out)})`);
    child.stdin.write(msg(2, 'PROCESS_STATE_EXITED', 'processname:api groupname:api from_state:RUNNING expected:0 pid:4242') + msg(3, 'PROCESS_STATE_STARTING', 'processname:api groupname:api from_state:EXITED tries:0'));
    await until(() => out.split('RESULT 2\nOK').length === 4, 5_000, `three acks (got ${JSON.stringify(out)})`);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as StatusDocument;
    assert.equal(doc.processes.api!.state, 'STARTING');
    assert.equal(doc.processes.api!.restarts, 1);
    assert.equal(doc.processes.api!.last_exit!.pid, 4242);
    const lines = err.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => l.event), ['listener_started', 'PROCESS_STATE_RUNNING', 'PROCESS_STATE_EXITED', 'PROCESS_STATE_STARTING']);
    child.stdin.end();
    await until(() => child.exitCode !== null, 5_000, 'listener exit on EOF');
    assert.equal(child.exitCode, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

const SUPERVISORD = process.env.SUPERVISORD ?? 'supervisord';
const hasSupervisord = spawnSync(SUPERVISORD, ['--version']).status === 0;

test('real supervisord: a SIGKILLed program is restarted and the listener records exit, reason and restart', async () => {
  assert.ok(hasSupervisord, 'supervisord is not installed (Debian: apt-get install supervisor); the native production mode needs it');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sa-sv-'));
  const conf = path.join(dir, 'supervisord.conf');
  const status = path.join(dir, 'process_status.json');
  const slog = path.join(dir, 'supervisord.log');
  const sock = path.join(dir, 'sv.sock');
  writeFileSync(
    conf,
    `[supervisord]
logfile=${slog}
pidfile=${dir}/supervisord.pid
childlogdir=${dir}
nodaemon=false

[unix_http_server]
file=${sock}
chmod=0700

[supervisorctl]
serverurl=unix://${sock}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:sleeper]
command=/bin/sleep 300
startsecs=1
autorestart=unexpected
exitcodes=78
stopasgroup=true
killasgroup=true

[eventlistener:status]
command=${process.execPath} --import ${TSX} ${LISTENER} --status-file ${status} --supervisord-log ${slog}
events=PROCESS_STATE
stderr_logfile=${dir}/events.log
priority=1
`,
  );
  const ctl = (...args: string[]) => spawnSync('supervisorctl', ['-c', conf, ...args], { encoding: 'utf8' });
  execFileSync(SUPERVISORD, ['-c', conf]);
  const svPid = Number(await until(() => existsSync(`${dir}/supervisord.pid`) && readFileSync(`${dir}/supervisord.pid`, 'utf8').trim(), 10_000, 'supervisord pid file'));
  const read = () => (existsSync(status) ? (JSON.parse(readFileSync(status, 'utf8')) as StatusDocument) : null);
  try {
    const first = await until(() => read()?.processes.sleeper?.state === 'RUNNING' && read()!.processes.sleeper!.pid, 30_000, 'sleeper RUNNING in the status file');
    assert.match(ctl('pid', 'sleeper').stdout.trim(), new RegExp(`^${first}$`));
    process.kill(first, 'SIGKILL');
    const doc = await until(() => {
      const d = read();
      const s = d?.processes.sleeper;
      return s && s.state === 'RUNNING' && s.pid !== first && d;
    }, 15_000, 'sleeper restarted');
    const s = doc.processes.sleeper!;
    assert.equal(s.restarts, 1);
    assert.equal(s.exits, 1);
    assert.equal(s.last_exit!.pid, first);
    assert.equal(s.last_exit!.expected, false);
    assert.match(s.last_exit!.reason ?? '', /SIGKILL/);
    const events = readFileSync(`${dir}/events.log`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; process?: string });
    assert.ok(events.some((e) => e.event === 'PROCESS_STATE_EXITED' && e.process === 'sleeper'), 'state changes logged as JSON lines');
    const second = s.pid!;
    assert.equal(ctl('shutdown').status, 0);
    await until(() => !alive(svPid) && !alive(second), 15_000, 'supervisord and its program gone');
  } finally {
    if (alive(svPid)) process.kill(svPid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
