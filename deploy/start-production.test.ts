// deploy/start-production.sh run for real against stub `docker` and `nvidia-smi` commands that
// record their calls: the GPU path, the CPU fallback, every preflight failure, a service that
// never gets healthy, and idempotence. The .env check is the real one (the service's config
// loader through deploy/check-env.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkEnv, parseArgs } from './check-env.ts';
import { ROOT, calls, run, writeStubs } from './testing.ts';

// `docker compose ... ps -a -q SVC` answers cid-SVC; `docker inspect cid-SVC` walks through the
// comma-separated states in $STUB_HEALTH_<svc> (one per call, the last one sticks).
const DOCKER_STUB = `
state=$STUB_STATE
case "$1" in
  info)
    [ -z "\${STUB_DAEMON_DOWN:-}" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
    if [ "\${2:-}" = --format ]; then
      case "$3" in
        *Runtimes*) printf '%s\\n' "\${STUB_RUNTIMES:-{\\"runc\\":{}\\}}" ;;
        *DockerRootDir*) printf '%s\\n' "$STUB_DOCKER_ROOT" ;;
      esac
    fi
    exit 0 ;;
  compose)
    shift
    while [ "\${1:-}" = -f ]; do shift 2; done
    case "$1" in
      version)
        [ -n "\${STUB_COMPOSE_VERSION:-}" ] || { echo "docker: 'compose' is not a docker command." >&2; exit 1; }
        echo "$STUB_COMPOSE_VERSION" ;;
      config) printf 'redis\\napi\\nworker\\n' ;;
      ps) echo "cid-\${!#}" ;;
      build) [ -z "\${STUB_BUILD_FAIL:-}" ] || exit 1 ;;
      logs) echo "stub log line of $4" ;;
    esac
    exit 0 ;;
  inspect)
    svc=\${!#}; svc=\${svc#cid-}
    var="STUB_HEALTH_$svc"; seq=\${!var:-healthy}
    n=$(cat "$state/$svc.n" 2>/dev/null || echo 0); echo $((n + 1)) > "$state/$svc.n"
    IFS=, read -ra steps <<<"$seq"
    i=$(( n < \${#steps[@]} ? n : \${#steps[@]} - 1 ))
    case "\${steps[$i]}" in
      healthy) echo "running healthy" ;;
      none) echo "running -" ;;
      starting) echo "running starting" ;;
      unhealthy) echo "running unhealthy" ;;
      exited) echo "exited -" ;;
    esac ;;
esac
exit 0`;

const NVIDIA_SMI_STUB = `
[ -n "\${STUB_GPU:-}" ] || { echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2; exit 9; }
echo "GPU 0: NVIDIA H200 (UUID: GPU-00000000-0000-0000-0000-000000000000)"`;

const GPU_ENV = { STUB_GPU: '1', STUB_RUNTIMES: '{"io.containerd.runc.v2":{},"nvidia":{},"runc":{}}' };

/** A copy of the deployment files in a temp app root, with the repo's node_modules and shared/. */
function sandbox(opts: { nodeModules?: boolean } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'start-production-'));
  const app = path.join(dir, 'app');
  mkdirSync(path.join(app, 'deploy'), { recursive: true });
  for (const f of ['deploy/start-production.sh', 'deploy/check-env.ts', 'docker-compose.production.yml', 'docker-compose.cpu.yml']) copyFileSync(path.join(ROOT, f), path.join(app, f));
  if (opts.nodeModules !== false) symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'));
  symlinkSync(path.join(ROOT, 'shared'), path.join(app, 'shared'));
  writeFileSync(path.join(app, '.env'), readFileSync(path.join(ROOT, '.env.example'), 'utf8').replace(/^API_KEYS=.*$/m, 'API_KEYS=test-key'));
  mkdirSync(path.join(app, 'media'));
  const state = path.join(dir, 'state');
  const dockerRoot = path.join(dir, 'docker-root');
  mkdirSync(state);
  mkdirSync(dockerRoot);
  const log = path.join(dir, 'calls.log');
  const stubs = path.join(dir, 'bin');
  writeStubs(stubs, log, { docker: DOCKER_STUB, 'nvidia-smi': NVIDIA_SMI_STUB });
  const start = (args: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    // Inspect counters restart with each run, as a fresh `up` would.
    rmSync(state, { recursive: true, force: true });
    mkdirSync(state);
    return run('bash', [path.join(app, 'deploy/start-production.sh'), ...args], {
      env: {
        PATH: `${stubs}:${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`,
        HOME: dir,
        STUB_STATE: state,
        STUB_DOCKER_ROOT: dockerRoot,
        STUB_COMPOSE_VERSION: '2.29.1',
        START_POLL_SECONDS: '0.1',
        START_MIN_DOCKER_FREE_MB: '1',
        ...env,
      },
    });
  };
  const composeCalls = () => calls(log).filter((c) => c.startsWith('docker compose '));
  return { dir, app, log, start, composeCalls, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const upCall = (c: string) => / up -d --remove-orphans$/.test(c);

test('GPU host: the GPU compose file alone, build, up, wait until healthy, status table', () => {
  const s = sandbox();
  try {
    // An output root the containers' user (uid 10001) can write: no warning expected.
    mkdirSync(path.join(s.app, 'output'));
    chmodSync(path.join(s.app, 'output'), 0o777);
    const r = s.start([], { ...GPU_ENV, STUB_HEALTH_api: 'starting,starting,healthy', STUB_HEALTH_worker: 'starting,healthy' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /WARNING/);
    const prod = `-f ${s.app}/docker-compose.production.yml`;
    const cc = s.composeCalls();
    assert.ok(cc.includes(`docker compose ${prod} build`), cc.join('\n'));
    assert.ok(cc.some((c) => c === `docker compose ${prod} up -d --remove-orphans`), cc.join('\n'));
    assert.ok(!cc.some((c) => c.includes('docker-compose.cpu.yml')), 'no CPU override on a GPU host');
    assert.ok(cc.findIndex((c) => c.endsWith(' build')) < cc.findIndex(upCall), 'build before up');
    assert.match(r.stdout, /worker flavour: gpu/);
    for (const svc of ['redis', 'api', 'worker']) assert.match(r.stdout, new RegExp(`^${svc}\\s+running\\s+healthy$`, 'm'));
    assert.match(r.stdout, /logs -f/);
    // Idempotent: a second run does the same again and succeeds.
    writeFileSync(s.log, '');
    const again = s.start([], GPU_ENV);
    assert.equal(again.status, 0, again.stdout + again.stderr);
    assert.equal(again.stderr, '');
    assert.ok(s.composeCalls().some(upCall));
  } finally {
    s.cleanup();
  }
});

test('no usable NVIDIA GPU: CPU override with a warning naming the reason', () => {
  const s = sandbox();
  try {
    const noGpu = s.start(['--no-build']);
    assert.equal(noGpu.status, 0, noGpu.stdout + noGpu.stderr);
    assert.match(noGpu.stderr, /WARNING: nvidia-smi lists no GPU: starting the CPU-only worker/);
    // The output root did not exist: created, with a hint when uid 10001 cannot write it.
    assert.ok(existsSync(path.join(s.app, 'output')));
    assert.match(noGpu.stdout, /created the output root/);
    if ((statSync(path.join(s.app, 'output')).mode & 0o002) === 0) assert.match(noGpu.stderr, /not writable by the containers' user \(uid 10001\): chown 10001/);
    const both = `-f ${s.app}/docker-compose.production.yml -f ${s.app}/docker-compose.cpu.yml`;
    assert.ok(s.composeCalls().includes(`docker compose ${both} up -d --remove-orphans`), s.composeCalls().join('\n'));
    assert.ok(!s.composeCalls().some((c) => c.endsWith(' build')), '--no-build builds nothing');

    writeFileSync(s.log, '');
    const noRuntime = s.start(['--no-build'], { STUB_GPU: '1' });
    assert.equal(noRuntime.status, 0, noRuntime.stdout + noRuntime.stderr);
    assert.match(noRuntime.stderr, /WARNING: Docker has no NVIDIA runtime/);
    assert.ok(s.composeCalls().some((c) => c.includes('docker-compose.cpu.yml') && upCall(c)));

    const forced = s.start(['--gpu', '--no-build']);
    assert.equal(forced.status, 1);
    assert.match(forced.stderr, /ERROR: --gpu: nvidia-smi lists no GPU/);
  } finally {
    s.cleanup();
  }
});

test('preflight failures: no docker, daemon down, no compose v2, old compose, low disk', () => {
  const s = sandbox();
  try {
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ DOCKER: path.join(s.dir, 'no-such-docker') }, /ERROR: docker not found/],
      [{ STUB_DAEMON_DOWN: '1' }, /ERROR: the Docker daemon is not reachable/],
      [{ STUB_COMPOSE_VERSION: '' }, /ERROR: Docker Compose v2 not found/],
      [{ STUB_COMPOSE_VERSION: 'v2.12.2' }, /ERROR: Docker Compose 2\.12\.2 is too old: 2\.20\.0 or newer/],
      [{ START_MIN_DOCKER_FREE_MB: '999999999' }, /ERROR: only \d+ MB free under Docker's root/],
    ];
    for (const [env, msg] of cases) {
      writeFileSync(s.log, '');
      const r = s.start([], { ...GPU_ENV, ...env });
      assert.equal(r.status, 1, `${JSON.stringify(env)}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.ok(!s.composeCalls().some(upCall), `${JSON.stringify(env)}: nothing started`);
    }
  } finally {
    s.cleanup();
  }
});

test('preflight failures: missing .env, invalid .env (the config loader names the variable), missing media root', () => {
  const s = sandbox();
  try {
    const env = path.join(s.app, '.env');
    const good = readFileSync(env, 'utf8');
    rmSync(env);
    let r = s.start([], GPU_ENV);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\.env not found: copy \.env\.example to \.env/);

    writeFileSync(env, good.replace(/^PORT=.*$/m, 'PORT=eighty').replace(/^LOG_LEVEL=.*$/m, 'LOG_LEVEL=loud'));
    r = s.start([], GPU_ENV);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /PORT: /);
    assert.match(r.stderr, /LOG_LEVEL: /);
    assert.match(r.stderr, /ERROR: \.env is not valid/);

    writeFileSync(env, good.replace(/^SHUTDOWN_DEADLINE_SECONDS=.*$/m, 'SHUTDOWN_DEADLINE_SECONDS=55'));
    r = s.start([], GPU_ENV);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SHUTDOWN_DEADLINE_SECONDS: 55 s leaves less than 10 s/);

    writeFileSync(env, good.replace(/^MOUNT_PATH=.*$/m, 'MOUNT_PATH=/nonexistent/media-root'));
    r = s.start([], GPU_ENV);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ERROR: media root \/nonexistent\/media-root \(MOUNT_PATH in \.env\) does not exist/);
    assert.ok(!s.composeCalls().some(upCall), 'nothing started');
  } finally {
    s.cleanup();
  }
});

test('a service that never gets healthy: non-zero exit naming it (timeout, unhealthy, exited)', () => {
  const s = sandbox();
  try {
    let r = s.start(['--no-build', '--timeout', '1'], { ...GPU_ENV, STUB_HEALTH_worker: 'starting' });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /ERROR: timed out after 1s waiting for: worker \(state: worker=running\/starting/);

    writeFileSync(s.log, '');
    r = s.start(['--no-build'], { ...GPU_ENV, STUB_HEALTH_api: 'starting,unhealthy' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ERROR: service api is not healthy \(running unhealthy\)/);
    assert.match(r.stderr, /stub log line of api/, 'its last log lines are shown');

    r = s.start(['--no-build'], { ...GPU_ENV, STUB_HEALTH_redis: 'exited' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ERROR: service redis is not healthy \(exited -\)/);

    r = s.start([], { ...GPU_ENV, STUB_BUILD_FAIL: '1' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ERROR: image build failed/);
  } finally {
    s.cleanup();
  }
});

test('a host without Node dependencies validates .env inside the api image, after the build', () => {
  const s = sandbox({ nodeModules: false });
  try {
    const r = s.start([], GPU_ENV);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const cc = s.composeCalls();
    const check = cc.findIndex((c) => / run --rm --no-deps -T api node --import tsx deploy\/check-env\.ts --stop-grace-seconds 60$/.test(c));
    assert.ok(check > cc.findIndex((c) => c.endsWith(' build')) && check < cc.findIndex(upCall), cc.join('\n'));
  } finally {
    s.cleanup();
  }
});

test('check-env: the service loader, production forced, the grace-period rule, usage errors', () => {
  const ok = checkEnv({ API_KEYS: 'k' }, { stopGraceSeconds: 60 });
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.config?.env, 'production', 'NODE_ENV forced to production as in the stack');
  assert.equal(ok.config?.strictRedisChecks, true);
  assert.deepEqual(checkEnv({}).warnings, ['API_KEYS is empty: the API will accept requests without authentication']);
  const bad = checkEnv({ WORKER_CONCURRENCY: '0', DATABASE_URL: 'mysql://x/y' });
  assert.equal(bad.ok, false);
  assert.ok(bad.problems.some((p) => p.startsWith('WORKER_CONCURRENCY')), bad.problems.join('; '));
  assert.match(checkEnv({ SHUTDOWN_DEADLINE_SECONDS: '51' }, { stopGraceSeconds: 60 }).problems.join(), /SHUTDOWN_DEADLINE_SECONDS: 51 s/);
  assert.deepEqual(checkEnv({ SHUTDOWN_DEADLINE_SECONDS: '50' }, { stopGraceSeconds: 60 }).problems, [], 'exactly the margin fits');
  assert.deepEqual(parseArgs(['--env-file', 'x', '--stop-grace-seconds', '60']), { envFile: 'x', stopGraceSeconds: 60 });
  assert.throws(() => parseArgs(['--stop-grace-seconds', 'soon']), { name: 'UsageError' });
  assert.throws(() => parseArgs(['--frobnicate']), { name: 'UsageError' });
});
