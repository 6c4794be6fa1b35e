// Rules for Dockerfile.production (api) and Dockerfile.worker, read statically (no Docker engine
// here): exact base tags, the lockfile's npm ci, onnxruntime-node's install mode per flavour,
// Debian/Ubuntu ffmpeg, a non-root user, HEALTHCHECK with the project's healthcheck command,
// tini, and an exec-form CMD that is the same command as the npm start script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, dockerIgnores, readDockerfile, readDockerignore, type Instruction } from './testing.ts';

interface Stage {
  from: string;
  alias: string | null;
  instructions: Instruction[];
}

function stages(file: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const out: Stage[] = [];
  for (const ins of readDockerfile(file)) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `${file}:${ins.line}: cannot read FROM ${ins.args}`);
      out.push({ from: m[1]!, alias: m[2] ?? null, instructions: [] });
    } else if (out.length === 0) {
      // ARGs before the first FROM are the ones FROM lines may use.
      if (ins.keyword === 'ARG') {
        const [k, v] = ins.args.split('=');
        args.set(k!.trim(), (v ?? '').trim());
      }
    } else out.at(-1)!.instructions.push(ins);
  }
  return { args, stages: out };
}

const expand = (s: string, args: Map<string, string>) => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, k: string) => args.get(k) ?? '');

/** An exact tag: a full x.y.z version or a dated build, never `latest`, a bare major or none. */
function pinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  if (!tag || tag === 'latest') return false;
  return /\d+\.\d+\.\d+/.test(tag) || /\d{8}/.test(tag);
}

/** The stages the final stage is built from (FROM chain and COPY --from), after ARG defaults. */
function finalChain(file: string, overrides: Record<string, string> = {}): { base: Stage[]; all: Stage[]; args: Map<string, string> } {
  const parsed = stages(file);
  const all = parsed.stages;
  const args = new Map([...parsed.args, ...Object.entries(overrides)]);
  const byAlias = new Map(all.filter((s) => s.alias).map((s) => [s.alias!, s]));
  const chain: Stage[] = [];
  let cur: Stage | undefined = all.at(-1);
  while (cur) {
    chain.push(cur);
    cur = byAlias.get(expand(cur.from, args));
  }
  return { base: chain, all, args };
}

const run = (s: Stage[]) => s.flatMap((st) => st.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)).join('\n');

for (const [file, service, main] of [
  ['Dockerfile.production', 'api', 'services/api/src/main.ts'],
  ['Dockerfile.worker', 'worker', 'services/worker/src/main.ts'],
] as const) {
  test(`${file}: every base image pinned by an exact tag`, () => {
    const { args, stages: all } = stages(file);
    const aliases = new Set(all.map((s) => s.alias).filter(Boolean));
    for (const s of all) {
      const from = expand(s.from, args);
      if (aliases.has(from)) continue;
      assert.ok(pinned(from), `${file}: FROM ${s.from} is not pinned by an exact tag`);
    }
    // A `# syntax=` line would pull a BuildKit frontend image by a floating tag at build time.
    assert.doesNotMatch(readFileSync(path.join(ROOT, file), 'utf8'), /^#\s*syntax=/m, `${file}: no unpinned syntax frontend`);
    // The check itself: these must be refused.
    for (const bad of ['node:latest', 'node', 'node:22', 'node:22-slim', 'ubuntu:24.04']) assert.equal(pinned(bad), false, bad);
  });

  test(`${file}: production dependencies with npm ci from the same lockfile`, () => {
    const { all } = finalChain(file);
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    assert.match(text, /cp package\.json package-lock\.json/, 'the lockfile reaches npm ci');
    assert.match(run(all), /npm ci --omit=dev/, 'npm ci --omit=dev');
    assert.doesNotMatch(run(all), /npm install/, 'npm install ignores the lockfile');
    assert.match(run(all), /apt-get install[^\n]*python3 make g\+\+/, 'toolchain for better-sqlite3');
  });

  test(`${file}: ffmpeg and tini from the distribution, non-root user, HEALTHCHECK, exec-form node CMD`, () => {
    const { base } = finalChain(file);
    const finalRuns = run(base);
    assert.match(finalRuns, /apt-get install[^\n]*\bffmpeg\b/, 'ffmpeg installed in the runtime stage');
    assert.match(finalRuns, /apt-get install[^\n]*\btini\b/, 'tini installed in the runtime stage');
    assert.match(finalRuns, /ln -sf \/app\/bin\/healthcheck \/usr\/local\/bin\/healthcheck/, 'healthcheck on PATH');
    const last = base[0]!.instructions;
    const user = last.filter((i) => i.keyword === 'USER').at(-1)?.args;
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `non-root USER (got ${user})`);
    const hc = last.filter((i) => i.keyword === 'HEALTHCHECK').at(-1)?.args ?? '';
    assert.match(hc, new RegExp(`CMD \\["healthcheck", "--service", "${service}"\\]$`), 'HEALTHCHECK runs the healthcheck command');
    assert.match(hc, /--start-period=\d+s/);
    const entry = JSON.parse(last.filter((i) => i.keyword === 'ENTRYPOINT').at(-1)?.args ?? 'null');
    assert.deepEqual(entry, ['/usr/bin/tini', '--']);
    const cmdArgs = last.filter((i) => i.keyword === 'CMD').at(-1)?.args ?? '';
    const cmd: unknown = JSON.parse(cmdArgs);
    assert.ok(Array.isArray(cmd), 'CMD in exec form (a JSON array) so signals reach node');
    assert.deepEqual(cmd, ['node', '--import', 'tsx', main]);
    // The same command the native mode and supervisors run (npm run start:<service>).
    const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts;
    assert.equal((cmd as string[]).join(' '), scripts[`start:${service}`]);
    assert.ok(existsSync(path.join(ROOT, main)), `${main} exists`);
  });
}

test('bin/healthcheck, which both images put on PATH, is an executable in the repo', () => {
  accessSync(path.join(ROOT, 'bin/healthcheck'), constants.X_OK);
});

test('Dockerfile.production: no onnxruntime CUDA download; the web UI is built', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile.production'), 'utf8');
  assert.match(text, /^ENV ONNXRUNTIME_NODE_INSTALL=skip$/m);
  assert.doesNotMatch(text, /cuda12/);
  assert.match(text, /COPY --from=web \/app\/services\/web\/dist \.\/services\/web\/dist/);
});

test('Dockerfile.worker: CUDA 12 + cuDNN runtime base, flavour argument, onnxruntime install per flavour, build-time library check', () => {
  const { args, stages: all } = stages('Dockerfile.worker');
  assert.equal(args.get('FLAVOUR'), 'gpu', 'GPU by default');
  const byAlias = new Map(all.filter((s) => s.alias).map((s) => [s.alias!, s]));
  assert.match(byAlias.get('base-gpu')?.from ?? '', /^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d\d\.\d\d$/, 'CUDA 12 (not 13) with cuDNN, runtime flavour');
  assert.doesNotMatch(byAlias.get('base-cpu')?.from ?? '', /cuda/);
  const env = (alias: string) => byAlias.get(alias)?.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
  assert.equal(env('base-gpu'), 'INFERENCE_PROVIDER=cuda', 'the GPU flavour asks for CUDA');
  assert.equal(env('base-cpu'), 'INFERENCE_PROVIDER=cpu');
  assert.equal(env('deps-gpu'), 'ONNXRUNTIME_NODE_INSTALL=cuda12');
  assert.equal(env('deps-cpu'), 'ONNXRUNTIME_NODE_INSTALL=skip');
  for (const flavour of ['gpu', 'cpu']) {
    const { base, args: a } = finalChain('Dockerfile.worker', { FLAVOUR: flavour });
    assert.equal(base.at(-1)?.alias, `base-${flavour}`, `FLAVOUR=${flavour} selects base-${flavour}`);
    assert.equal(expand(byAlias.get('deps')?.from ?? '', a), `deps-${flavour}`);
  }
  const runtime = all.at(-1)!;
  assert.ok(runtime.instructions.some((i) => i.keyword === 'RUN' && /if \[ "\$FLAVOUR" = gpu \]; then bash scripts\/gpu-check\.sh --libs-only; fi/.test(i.args)), 'build-time ldd check in the GPU flavour');
  assert.ok(runtime.instructions.some((i) => i.keyword === 'COPY' && /--from=node \/usr\/local\/bin\/node/.test(i.args)), 'Node copied into the CUDA base');
});

test('.dockerignore keeps secrets, host dependencies and state out, and what the images need in', () => {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const p of ['**/node_modules', '.git', '.env', '.env.*', '!.env.example', 'data', 'logs', 'output', 'media']) assert.ok(patterns.includes(p), `.dockerignore lacks ${p}`);
  for (const needed of ['bin', 'deploy', 'scripts', 'shared', 'services', 'package-lock.json', 'package.json', '.npmrc']) {
    assert.ok(!patterns.some((p) => p === needed || p === `${needed}/` || p === `/${needed}`), `.dockerignore must not exclude ${needed}`);
  }
});

// --- security (docs/SECURITY.md) --------------------------------------------------------------

test('.dockerignore, read as Docker reads it: secrets anywhere in the tree stay out, what the images need stays in', () => {
  const patterns = readDockerignore();
  // The matcher itself, on Docker's documented semantics.
  assert.equal(dockerIgnores(['**/x'], 'a/b/x'), true);
  assert.equal(dockerIgnores(['x'], 'a/x'), false, 'a plain name is relative to the context root');
  assert.equal(dockerIgnores(['a'], 'a/b/c'), true, 'a directory takes its content with it');
  assert.equal(dockerIgnores(['*.log', '!keep.log'], 'keep.log'), false, 'the last match decides');
  assert.equal(dockerIgnores(['a/*.ts'], 'a/b/c.ts'), false, '* stays within one directory');
  const secrets = [
    '.env', '.env.production', 'services/api/.env', 'deploy/k8s/.env.staging', 'shared/platform/.env',
    'certs/server.key', 'deploy/tls/api.pem', 'keys/client.p12', 'id_rsa', 'home/.ssh/id_ed25519', '.ssh/config',
    '.aws/credentials', '.docker/config.json', '.netrc', 'services/cli/.npmrc',
    'data/sync-analyzer.sqlite', 'sync-analyzer.sqlite-wal', 'backups/sync-analyzer-20260101.tar.gz', 'logs/api.log', 'output/repairs/x.mov', 'media/ep1.mov',
    '.git/config', 'node_modules/express/index.js', 'services/api/node_modules/x.js', 'run/stack.env', 'test-artifacts/shot.png',
  ];
  for (const f of secrets) assert.ok(dockerIgnores(patterns, f), `${f} would be copied into the images`);
  const needed = [
    '.env.example', '.npmrc', 'package.json', 'package-lock.json', 'bin/healthcheck', 'scripts/gpu-check.sh', 'deploy/check-env.ts',
    'services/api/src/main.ts', 'services/worker/src/main.ts', 'services/ops/src/healthcheck.ts', 'shared/platform/src/config.ts', 'services/web/package.json',
  ];
  for (const f of needed) assert.equal(dockerIgnores(patterns, f), false, `${f} is needed in the images but ignored`);
});

test('no secret reaches an image: no secret in ARG/ENV, no npm token in .npmrc, the app cannot rewrite its own code', () => {
  const secretName = /(API_KEYS?|WEBHOOK_SECRET|DATABASE_URL|PASSWORD|PASSWD|TOKEN|SECRET|_AUTH)/i;
  for (const file of ['Dockerfile.production', 'Dockerfile.worker']) {
    const ins = readDockerfile(file);
    for (const i of ins.filter((x) => x.keyword === 'ARG' || x.keyword === 'ENV')) {
      // ENV a=b c=d: every name.
      for (const [, name] of i.args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)/g)) assert.doesNotMatch(name!, secretName, `${file}:${i.line}: ${i.keyword} ${name}`);
    }
    assert.ok(!ins.some((i) => i.keyword === 'COPY' && /(^|\s)\.env(\s|$)/.test(i.args)), `${file}: copies .env`);
    // Files of the runtime stage are root's (no COPY --chown): the app user can read its code
    // but not change it, even where the root filesystem is writable.
    const runtime = stages(file).stages.at(-1)!.instructions;
    assert.ok(!runtime.some((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && /--chown|--chmod/.test(i.args)), `${file}: the runtime stage's files must stay root's`);
    const userAt = runtime.findIndex((i) => i.keyword === 'USER');
    assert.ok(userAt > runtime.findLastIndex((i) => i.keyword === 'COPY' || i.keyword === 'RUN'), `${file}: USER comes after every COPY and RUN`);
    const worldWritable = /chmod\s+(?:-R\s+)?(?:[0-7]*[2367]|[ug]*[ao][ugo]*\+[rx]*w)(?:\s|$)/m;
    for (const [cmd, bad] of [['chmod 1777 /x', true], ['chmod -R a+w /x', true], ['chmod o+rw /x', true], ['chmod 755 /x', false], ['chmod 0644 /x', false]] as const) assert.equal(worldWritable.test(cmd), bad, cmd);
    assert.doesNotMatch(readFileSync(path.join(ROOT, file), 'utf8'), worldWritable, `${file}: no world-writable files`);
  }
  const npmrc = readFileSync(path.join(ROOT, '.npmrc'), 'utf8');
  assert.doesNotMatch(npmrc, /_auth|_authToken|_password|username|:email/i, '.npmrc (copied into the build) must not hold registry credentials');
});
