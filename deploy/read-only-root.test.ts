// The containers' read-only roots, for real (no Docker engine needed): the api and worker
// processes run as the images run them (uid 10001, no capabilities, no_new_privs,
// NODE_ENV=production, the compose file's environment) inside a private mount namespace where
// every filesystem is read-only except the mounts docker-compose.production.yml (+ the CPU
// override) declares writable for that service: its volumes and its /tmp tmpfs, each played by
// a directory here. An analysis (speech detection on), a repair, a listening proxy and both
// healthcheck commands must work; nothing may fail for want of a writable path, and what lands
// in /tmp must fit the tmpfs size the file declares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, makeDub, makeProgramme, startRedis, until, type PrivateRedis } from '../e2e/harness.ts';
import { ROOT, composeMounts, mergeCompose, readCompose, requireTool, type Json } from './testing.ts';

/** The images' user. */
const IMAGE_UID = 10001;
const KEY = `ro-${randomBytes(12).toString('hex')}`;
const TSX = import.meta.resolve('tsx');
const SERVICES = ['api', 'worker'] as const;
type Service = (typeof SERVICES)[number];

/** Bytes of a tmpfs size option (64m, 1g, 1024k). */
function sizeBytes(opts: string): number {
  const m = /(?:^|,)size=(\d+)([kmg]?)(?:,|$)/i.exec(opts);
  assert.ok(m, `no size= in tmpfs options ${opts}`);
  return Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase());
}

function duBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += duBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Mount points of a mount namespace (octal escapes of mountinfo decoded). */
function mountPoints(pid: number): string[] {
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n').map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/** The sandbox can be built here: tools present, and we may create a mount namespace. */
function sandboxSupport(t: import('node:test').TestContext): boolean {
  for (const [cmd, hint] of [['unshare', 'util-linux'], ['nsenter', 'util-linux'], ['setpriv', 'util-linux'], ['mount', 'mount']] as const) if (!requireTool(t, cmd, `apt-get install ${hint}`)) return false;
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true'], { encoding: 'utf8' });
  if (probe.status === 0 && process.getuid?.() === 0) return true;
  const msg = `cannot create a mount namespace here (needs root: ${probe.stderr.trim() || `uid ${process.getuid?.()}`})`;
  if (process.env.CI) throw new Error(`${msg}: CI must run this check`);
  t.skip(msg);
  return false;
}

test('api and worker on read-only roots with only the writable mounts the compose file declares: analysis, repair, proxy, healthchecks', { timeout: 600_000 }, async (t) => {
  if (!sandboxSupport(t)) return;
  const compose = mergeCompose(readCompose('docker-compose.production.yml'), readCompose('docker-compose.cpu.yml'));
  const base = mkdtempSync(path.join(os.tmpdir(), 'sa-ro-root-'));
  chmodSync(base, 0o755);
  const procs: ChildProcess[] = [];
  let holder: ChildProcess | null = null;
  let redis: PrivateRedis | null = null;
  const output: Record<string, string> = {};
  try {
    // One host directory per volume source (app-data and the output root are shared by both
    // services, as in the stack), one per service for its tmpfs. The image's /app: read-only.
    const app = path.join(base, 'app');
    mkdirSync(app);
    // The images' uid when it can read this checkout; a checkout under a private directory
    // (mode 700 somewhere above it) leaves root, stripped of every capability below.
    const probe = spawnSync('setpriv', [`--reuid=${IMAGE_UID}`, `--regid=${IMAGE_UID}`, '--clear-groups', '--', 'test', '-r', path.join(ROOT, 'node_modules/tsx/package.json')]);
    const UID = probe.status === 0 ? IMAGE_UID : 0;
    t.diagnostic(`services run as uid ${UID} without capabilities`);
    const dirs = new Map<string, string>();
    const hostDir = (key: string, writable: boolean) => {
      if (!dirs.has(key)) {
        const d = path.join(base, `mnt-${dirs.size}-${key.replace(/[^\w.-]+/g, '_').slice(0, 40)}`);
        mkdirSync(d);
        // Named volumes start owned by the image's user; start-production.sh requires the output root writable by 10001.
        if (writable) chownSync(d, UID, UID);
        dirs.set(key, d);
      }
      return dirs.get(key)!;
    };
    const views = new Map<Service, { target: string; host: string; readOnly: boolean; tmpfs: string | null }[]>();
    for (const name of SERVICES) {
      views.set(name, composeMounts(compose.services[name]).map((m) => ({ ...m, host: hostDir(m.source ?? `${name}-tmpfs-${m.target}`, !m.readOnly) })));
    }
    const writable = [...new Set([...views.values()].flat().filter((m) => !m.readOnly).map((m) => m.host))];
    const toHost = (name: Service, p: string) => {
      const m = views.get(name)!.filter((x) => p === x.target || p.startsWith(`${x.target}/`)).sort((a, b) => b.target.length - a.target.length)[0];
      return m ? path.join(m.host, path.relative(m.target, p)) : p;
    };

    // Media, written before the roots go read-only (the media root is mounted :ro anyway).
    const media = toHost('api', compose.services.api.environment.MOUNT_PATH);
    await makeProgramme(path.join(media, 'master.wav'), 61, 20);
    await makeDub(path.join(media, 'master.wav'), path.join(media, 'dub.wav'), 0.36);

    redis = await startRedis(path.join(base, 'redis'));
    const ports = { api: await freePort(), worker: await freePort() };

    // The namespace: held by a sleeping process, entered with nsenter for everything else.
    holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sleep', '3600'], { stdio: 'ignore' });
    const ns = `--mount=/proc/${holder.pid}/ns/mnt`;
    await until(async () => readFileSync(`/proc/${holder!.pid}/cmdline`, 'utf8').startsWith('sleep'), 10_000, 'namespace holder');
    const inNs = (args: string[]) => {
      const r = spawnSync('nsenter', [ns, '--', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    };
    for (const d of writable) inNs(['mount', '--bind', d, d]);
    const keep = (mp: string) => writable.includes(mp) || /^\/(proc|sys|dev)(\/|$)/.test(mp);
    // Per-mount read-only flag (bind remount): the host's mounts are not touched.
    for (const mp of mountPoints(holder.pid!).filter((m) => !keep(m))) inNs(['mount', '-o', 'remount,bind,ro', mp]);
    const asApp = ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'];
    const tryWrite = (file: string) => spawnSync('nsenter', [ns, '--', ...asApp, 'touch', file], { encoding: 'utf8' });
    // The sandbox is real: the checkout, the test's own directory and /tmp refuse writes; the mounts accept them.
    for (const f of [path.join(ROOT, '.ro-canary'), path.join(base, '.ro-canary'), path.join(app, '.ro-canary'), path.join(os.tmpdir(), `.ro-canary-${process.pid}`)]) {
      const r = tryWrite(f);
      assert.notEqual(r.status, 0, `${f} is writable in the sandbox`);
      assert.match(r.stderr, /Read-only file system/, f);
    }
    for (const d of writable) {
      assert.equal(tryWrite(path.join(d, '.rw-canary')).status, 0, `${d} is not writable in the sandbox`);
      rmSync(path.join(d, '.rw-canary'));
    }

    // The services, with the compose environment (paths mapped to the host directories; .env's
    // settings are the operator's, so only the API key is added here).
    const prefix = `ro-${randomBytes(4).toString('hex')}`;
    const envOf = (name: Service): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: app };
      for (const [k, v] of Object.entries<Json>(compose.services[name].environment)) env[k] = typeof v === 'string' && v.startsWith('/') ? toHost(name, v) : String(v);
      return {
        ...env,
        // os.tmpdir() is /tmp in the image; here /tmp is the read-only host's, so TMPDIR names the tmpfs's stand-in.
        TMPDIR: toHost(name, '/tmp'),
        REDIS_URL: redis!.url,
        QUEUE_PREFIX: prefix,
        PORT: String(ports.api),
        WORKER_HEALTH_PORT: String(ports.worker),
        DISK_MIN_FREE_MB: '1',
        ...(name === 'api' ? { API_KEYS: KEY } : {}),
      };
    };
    const start = (name: Service) => {
      output[name] = '';
      const p = spawn('nsenter', [ns, `--wd=${app}`, '--', ...asApp, process.execPath, '--import', TSX, path.join(ROOT, `services/${name}/src/main.ts`)], { env: envOf(name), stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout!.on('data', (c: Buffer) => (output[name] += c.toString()));
      p.stderr!.on('data', (c: Buffer) => (output[name] += c.toString()));
      procs.push(p);
      return p;
    };
    const api = start('api');
    const worker = start('worker');
    const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200;
    await until(async () => {
      for (const [n, p] of [['api', api], ['worker', worker]] as const) if (p.exitCode !== null) throw new Error(`${n} exited ${p.exitCode}: ${output[n]!.slice(-3000)}`);
      return (await ready(ports.api)) && (await ready(ports.worker));
    }, 240_000, 'api and worker ready on read-only roots');

    const call = async (method: string, url: string, body?: unknown) => {
      const r = await fetch(`http://127.0.0.1:${ports.api}${url}`, { method, headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
      const text = await r.text();
      return { status: r.status, text, body: r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null };
    };
    // An analysis (decoded-master cache and speech model: DATA_DIR, /tmp).
    const a = (await call('POST', '/api/v1/analyses?wait=240', { master: 'master.wav', dub: 'dub.wav' })).body.analysis;
    assert.equal(a.status, 'completed', JSON.stringify(a.error));
    assert.ok(Math.abs(a.offset_seconds - 0.36) < 0.01, `offset ${a.offset_seconds}`);
    // A repair: the api reserves the output path, the worker writes it (the output root).
    const rr = await call('POST', '/api/v1/repairs', { analysis_id: a.id });
    assert.equal(rr.status, 202, rr.text);
    const repair = await until(async () => {
      const x = (await call('GET', `/api/v1/repairs/${rr.body.repair.id}`)).body.repair;
      return ['completed', 'failed'].includes(x.status) ? x : null;
    }, 240_000, 'repair done');
    assert.equal(repair.status, 'completed', JSON.stringify(repair.error));
    assert.ok(repair.checks.every((c: Json) => c.ok), JSON.stringify(repair.checks));
    assert.ok(statSync(path.join(toHost('worker', compose.services.worker.environment.OUTPUT_ROOT), repair.output)).size > 0, 'the repaired file is on the output mount');
    // A listening proxy (DATA_DIR/proxies, written by a worker job, served by the api).
    const proxy = await until(async () => {
      const r = await fetch(`http://127.0.0.1:${ports.api}/api/v1/analyses/${a.id}/proxy/dub`, { headers: { authorization: `Bearer ${KEY}` } });
      return r.status === 202 ? null : r;
    }, 120_000, 'proxy');
    assert.equal(proxy.status, 200, await proxy.clone().text());
    assert.equal(proxy.headers.get('content-type'), 'audio/ogg');
    assert.ok((await proxy.arrayBuffer()).byteLength > 1000);

    // The images' healthcheck command, as the compose healthchecks run it, in the sandbox.
    for (const name of SERVICES) {
      const [kind, cmd, ...args] = compose.services[name].healthcheck.test;
      assert.deepEqual([kind, cmd], ['CMD', 'healthcheck']);
      const r = spawnSync('nsenter', [ns, `--wd=${app}`, '--', ...asApp, path.join(ROOT, 'bin/healthcheck'), ...args], { env: envOf(name), encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `healthcheck ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }

    // Nothing failed for want of a writable path; /tmp fits its tmpfs.
    for (const name of SERVICES) {
      assert.doesNotMatch(output[name]!, /EROFS|read-only file system/i, `${name} hit the read-only root`);
      const tmp = views.get(name)!.find((m) => m.target === '/tmp')!;
      const used = duBytes(tmp.host);
      const limit = sizeBytes(tmp.tmpfs!);
      t.diagnostic(`${name}: /tmp holds ${(used / 1048576).toFixed(1)} MiB of its ${(limit / 1048576).toFixed(0)} MiB tmpfs`);
      assert.ok(used < limit / 2, `${name}: /tmp uses ${used} bytes, more than half its tmpfs (${limit})`);
    }
  } catch (err) {
    for (const [name, out] of Object.entries(output)) t.diagnostic(`${name} output (end):\n${out.slice(-4000)}`);
    throw err;
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)));
    holder?.kill('SIGKILL');
    await redis?.stop();
    rmSync(base, { recursive: true, force: true });
  }
});
