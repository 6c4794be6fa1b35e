// scripts/gpu-check.sh on a host without a GPU: the real ONNX Runtime session and node-placement
// parsing (with the CPU provider), the CUDA provider missing, and the library check on small
// shared objects built here whose dependencies are missing (libcuda.so.1 alone is accepted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, requireTool, run, writeStubs } from './testing.ts';

const SCRIPT = path.join(ROOT, 'scripts/gpu-check.sh');
const require = createRequire(path.join(ROOT, 'package.json'));
const ORT_DIR = path.dirname(require.resolve('onnxruntime-node/package.json'));
const ARCH = process.arch === 'arm64' ? 'arm64' : 'x64';

function env(extra: NodeJS.ProcessEnv = {}, binDir?: string): NodeJS.ProcessEnv {
  return { PATH: `${binDir ? `${binDir}:` : ''}${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: os.tmpdir(), ...extra };
}

test('CPU provider: a real session on the VAD model, placements read from the ONNX Runtime log, one inference', () => {
  const r = run('bash', [SCRIPT, '--provider', 'cpu'], { env: env() });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /model: .*\/weights\/silero_vad\.onnx$/m, "the worker's default model");
  assert.match(r.stdout, /execution providers: CPUExecutionProvider \(\d+ nodes\)/);
  assert.match(r.stdout, /inference ok in [\d.]+ ms/);
  assert.match(r.stdout, /active execution provider: CPUExecutionProvider$/m);
});

test('CUDA expected but onnxruntime-node has no CUDA provider: fails and says how it was installed', (t) => {
  const provider = readdirSync(path.join(ORT_DIR, 'bin')).some((v) => existsSync(path.join(ORT_DIR, 'bin', v, 'linux', ARCH, 'libonnxruntime_providers_cuda.so')));
  if (provider) {
    t.skip('this checkout has the CUDA provider installed (ONNXRUNTIME_NODE_INSTALL=cuda12)');
    return;
  }
  for (const args of [[], ['--libs-only']]) {
    const r = run('bash', [SCRIPT, ...args], { env: env() });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /FAIL: .*libonnxruntime_providers_cuda\.so is missing: .*ONNXRUNTIME_NODE_INSTALL=cuda12/);
  }
});

test('library check: a missing dependency fails and is named; libcuda.so.1 alone is accepted; then nvidia-smi and the session are required', (t) => {
  const gcc = requireTool(t, 'gcc', 'apt-get install gcc');
  if (!gcc) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gpu-check-'));
  try {
    const build = path.join(dir, 'build');
    mkdirSync(build);
    writeFileSync(path.join(build, 'x.c'), 'int x(void) { return 1; }\n');
    const cc = (...args: string[]) => {
      const r = run(gcc, args, { cwd: build });
      assert.equal(r.status, 0, r.stderr);
    };
    // Stand-ins for a CUDA library and the driver's libcuda.so.1, present only at link time.
    cc('-shared', '-fPIC', '-o', 'libcublasLt.so.12', '-Wl,-soname,libcublasLt.so.12', 'x.c');
    cc('-shared', '-fPIC', '-o', 'libcuda.so.1', '-Wl,-soname,libcuda.so.1', 'x.c');
    const fakeOrt = (name: string, libs: string[]) => {
      const ort = path.join(dir, name);
      const bin = path.join(ort, 'bin', 'napi-v6', 'linux', ARCH);
      mkdirSync(bin, { recursive: true });
      // The real package (its JS and the core library) around a fake CUDA provider.
      for (const f of ['package.json', 'dist', 'lib']) if (existsSync(path.join(ORT_DIR, f))) symlinkSync(path.join(ORT_DIR, f), path.join(ort, f));
      cc('-shared', '-fPIC', '-o', path.join(bin, 'libonnxruntime_providers_cuda.so'), 'x.c', `-L${build}`, '-Wl,--no-as-needed', ...libs.map((l) => `-l:${l}`));
      return ort;
    };
    const missing = fakeOrt('ort-missing', ['libcublasLt.so.12', 'libcuda.so.1']);
    const complete = fakeOrt('ort-complete', ['libcuda.so.1']);
    rmSync(build, { recursive: true });

    let r = run('bash', [SCRIPT, '--libs-only'], { env: env({ ORT_NODE_DIR: missing }) });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /FAIL: libonnxruntime_providers_cuda\.so needs libraries this image lacks: libcublasLt\.so\.12$/m);

    r = run('bash', [SCRIPT, '--libs-only'], { env: env({ ORT_NODE_DIR: complete }) });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /libraries: libonnxruntime_providers_cuda\.so resolves .*libcuda\.so\.1 comes from the host driver/);

    r = run('bash', [SCRIPT], { env: env({ ORT_NODE_DIR: complete }) });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /FAIL: nvidia-smi not found/);

    // A GPU is visible but CUDA cannot be activated (here: the provider is a stand-in): the
    // session step fails, so the check cannot pass without a working CUDA provider.
    const stubs = path.join(dir, 'stubs');
    writeStubs(stubs, path.join(dir, 'calls.log'), { 'nvidia-smi': 'echo "NVIDIA H200, 570.133.20, 143771 MiB"' });
    r = run('bash', [SCRIPT], { env: env({ ORT_NODE_DIR: complete }, stubs) });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /gpu: NVIDIA H200, 570\.133\.20, 143771 MiB/);
    assert.match(r.stderr, /FAIL: (session error: .*|active execution provider is \w+, not CUDAExecutionProvider)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage errors are refused', () => {
  const r = run('bash', [SCRIPT, '--provider', 'tpu'], { env: env() });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--provider must be cuda or cpu/);
});
