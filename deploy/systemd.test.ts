// The systemd units and deploy/install-systemd.sh: the units' rules (restart, hardening,
// dedicated user, stop timeouts), `systemd-analyze verify` on the units as installed, and the
// installer run for real into a DESTDIR with stub id/useradd/chown/systemctl/docker commands
// that record their calls: refusal when not root, first install, idempotent second run,
// compose mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, calls, requireTool, run, writeStubs } from './testing.ts';

const UNITS = ['sync-analyzer.service', 'sync-analyzer-worker.service', 'sync-analyzer-compose.service'];
const SCRIPT = path.join(ROOT, 'deploy/install-systemd.sh');

/** [section] -> key -> values (a key may repeat). */
function readUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!;
      out.set(section, out.get(section) ?? new Map());
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0 && section, `not a unit line: ${line}`);
    const m = out.get(section)!;
    const k = line.slice(0, eq);
    m.set(k, [...(m.get(k) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const get = (u: Map<string, Map<string, string[]>>, section: string, key: string) => u.get(section)?.get(key)?.at(-1);

function sandbox() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'install-systemd-'));
  const log = path.join(dir, 'calls.log');
  const stubs = path.join(dir, 'bin');
  const userFlag = path.join(dir, 'user-exists');
  writeStubs(stubs, log, {
    // `id -u` answers STUB_UID; `id -u NAME` succeeds once useradd has run, as on a real host.
    id: `if [ "$#" = 1 ] && [ "$1" = -u ]; then echo "\${STUB_UID:-0}"; exit 0; fi\n[ -f ${JSON.stringify(userFlag)} ] && { echo 999; exit 0; }\nexit 1`,
    useradd: `touch ${JSON.stringify(userFlag)}`,
    chown: 'exit 0',
    systemctl: 'exit 0',
    docker: 'exit 0',
  });
  const destdir = path.join(dir, 'root');
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: `${stubs}:${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: dir,
    DESTDIR: destdir,
    NODE_BIN: process.execPath,
    ...extra,
  });
  const install = (args: string[] = [], extra: NodeJS.ProcessEnv = {}) => run('bash', [SCRIPT, ...args], { env: env(extra) });
  return { dir, log, stubs, destdir, unitDir: path.join(destdir, 'etc/systemd/system'), install, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('units: restart on failure, hardening, a dedicated user, the same commands as npm start:*', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  for (const [unit, service] of [['sync-analyzer.service', 'api'], ['sync-analyzer-worker.service', 'worker']] as const) {
    const u = readUnit(readFileSync(path.join(ROOT, 'deploy', unit), 'utf8'));
    assert.equal(get(u, 'Service', 'Restart'), 'on-failure', `${unit}: Restart`);
    assert.equal(get(u, 'Service', 'User'), 'sync-analyzer', `${unit}: dedicated user`);
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['PrivateTmp', 'yes'], ['KillMode', 'mixed'], ['Environment', 'NODE_ENV=production']]) {
      assert.equal(get(u, 'Service', k!), v, `${unit}: ${k}=${v}`);
    }
    assert.equal(get(u, 'Service', 'ExecStart'), `/usr/bin/${pkg.scripts[`start:${service}`]}`, `${unit}: ExecStart is npm start:${service}`);
    assert.equal(get(u, 'Service', 'WorkingDirectory'), '/opt/sync-analyzer', 'tsx resolves from the app root');
    assert.equal(get(u, 'Service', 'RestartPreventExitStatus'), '78', 'no restart loop on a configuration error');
    assert.equal(get(u, 'Install', 'WantedBy'), 'multi-user.target');
  }
  const worker = readUnit(readFileSync(path.join(ROOT, 'deploy/sync-analyzer-worker.service'), 'utf8'));
  const deadline = Number(/^SHUTDOWN_DEADLINE_SECONDS=(\d+)/m.exec(readFileSync(path.join(ROOT, '.env.example'), 'utf8'))?.[1]);
  assert.ok(Number(get(worker, 'Service', 'TimeoutStopSec')) > deadline + 10, 'worker TimeoutStopSec above SHUTDOWN_DEADLINE_SECONDS');
  const compose = readUnit(readFileSync(path.join(ROOT, 'deploy/sync-analyzer-compose.service'), 'utf8'));
  assert.equal(get(compose, 'Service', 'Type'), 'oneshot');
  assert.equal(get(compose, 'Service', 'RemainAfterExit'), 'yes');
  assert.match(get(compose, 'Service', 'ExecStart') ?? '', /^\/opt\/sync-analyzer\/deploy\/start-production\.sh --no-build/);
  assert.match(get(compose, 'Unit', 'After') ?? '', /docker\.service/);
});

test('native units: no capabilities, nothing writable but the state directories (docs/SECURITY.md)', () => {
  for (const unit of ['sync-analyzer.service', 'sync-analyzer-worker.service']) {
    const u = readUnit(readFileSync(path.join(ROOT, 'deploy', unit), 'utf8'));
    for (const [k, v] of [['CapabilityBoundingSet', ''], ['AmbientCapabilities', ''], ['ProtectHome', 'read-only'], ['RestrictSUIDSGID', 'yes'], ['ProtectKernelModules', 'yes'], ['RestrictNamespaces', 'yes'], ['UMask', '0027']]) {
      assert.equal(get(u, 'Service', k!), v, `${unit}: ${k}=${v}`);
    }
    const writable = (get(u, 'Service', 'ReadWritePaths') ?? '').split(/\s+/).map((p) => p.replace(/^-/, '')).sort();
    assert.deepEqual(writable, ['/opt/sync-analyzer/data', '/opt/sync-analyzer/logs', '/opt/sync-analyzer/output'], `${unit}: ReadWritePaths`);
    assert.notEqual(get(u, 'Service', 'User'), 'root');
  }
});

test('install-systemd.sh refuses clearly when not root, and touches nothing', () => {
  const s = sandbox();
  try {
    const r = s.install([], { STUB_UID: '1000' });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /must be run as root/);
    assert.equal(existsSync(s.destdir), false, 'nothing installed');
    assert.deepEqual(calls(s.log).filter((c) => !c.startsWith('id ')), [], 'no command but id ran');
  } finally {
    s.cleanup();
  }
});

test('install-systemd.sh installs the native units into DESTDIR, then a second run changes nothing; the units verify', (t) => {
  const s = sandbox();
  try {
    const first = s.install();
    assert.equal(first.status, 0, first.stdout + first.stderr);
    assert.deepEqual(readdirSync(s.unitDir).sort(), ['sync-analyzer-worker.service', 'sync-analyzer.service']);
    for (const unit of ['sync-analyzer.service', 'sync-analyzer-worker.service']) {
      const text = readFileSync(path.join(s.unitDir, unit), 'utf8');
      assert.ok(!text.includes('/opt/sync-analyzer'), `${unit}: paths rendered for this checkout`);
      const u = readUnit(text);
      assert.equal(get(u, 'Service', 'WorkingDirectory'), ROOT);
      assert.ok(get(u, 'Service', 'ExecStart')!.startsWith(`${process.execPath} --import tsx `));
    }
    for (const d of ['data', 'output', 'logs']) assert.ok(existsSync(path.join(s.destdir, ROOT, d)), `${d}/ created`);
    const c1 = calls(s.log);
    assert.equal(c1.filter((c) => c.startsWith('useradd ')).length, 1, 'the service user is created');
    assert.match(c1.find((c) => c.startsWith('useradd '))!, /--system .*sync-analyzer$/);
    assert.equal(c1.filter((c) => /^chown sync-analyzer:sync-analyzer /.test(c)).length, 3);
    assert.deepEqual(c1.filter((c) => c.startsWith('systemctl ')), [
      'systemctl daemon-reload',
      'systemctl enable sync-analyzer.service sync-analyzer-worker.service',
      'systemctl restart sync-analyzer.service sync-analyzer-worker.service',
    ]);

    writeFileSync(s.log, '');
    const before = Object.fromEntries(readdirSync(s.unitDir).map((f) => [f, readFileSync(path.join(s.unitDir, f), 'utf8')]));
    const second = s.install();
    assert.equal(second.status, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /sync-analyzer\.service unchanged/);
    const c2 = calls(s.log);
    assert.equal(c2.filter((c) => c.startsWith('useradd ')).length, 0, 'no second user');
    assert.deepEqual(c2.filter((c) => c.startsWith('systemctl ')), [
      'systemctl enable sync-analyzer.service sync-analyzer-worker.service',
      'systemctl start sync-analyzer.service sync-analyzer-worker.service',
    ], 'no daemon-reload or restart when nothing changed');
    assert.deepEqual(Object.fromEntries(readdirSync(s.unitDir).map((f) => [f, readFileSync(path.join(s.unitDir, f), 'utf8')])), before);

    writeFileSync(s.log, '');
    const compose = s.install(['--compose', '--no-start'], { DOCKER_BIN: path.join(s.stubs, 'docker') });
    assert.equal(compose.status, 0, compose.stdout + compose.stderr);
    const cu = readUnit(readFileSync(path.join(s.unitDir, 'sync-analyzer-compose.service'), 'utf8'));
    assert.equal(get(cu, 'Service', 'ExecStart'), `${ROOT}/deploy/start-production.sh --no-build --timeout 600`);
    assert.ok(get(cu, 'Service', 'ExecStop')!.startsWith(`${path.join(s.stubs, 'docker')} compose -f ${ROOT}/docker-compose.production.yml`));
    assert.ok(!calls(s.log).some((c) => /^systemctl (start|restart)/.test(c)), '--no-start starts nothing');

    const bin = requireTool(t, 'systemd-analyze', 'apt-get install systemd');
    if (!bin) return;
    const units = UNITS.map((u) => path.join(s.unitDir, u));
    const v = run(bin, ['verify', ...units]);
    // verify reports bad settings as warnings with exit 0: any output is a failure.
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stderr.trim(), '', v.stderr);
    // The check itself: a misspelt value must be reported.
    const bad = path.join(s.dir, 'bad.service');
    writeFileSync(bad, readFileSync(units[0]!, 'utf8').replace('Restart=on-failure', 'Restart=sometimes'));
    assert.match(run(bin, ['verify', bad]).stderr, /restart specifier/);
  } finally {
    s.cleanup();
  }
});
