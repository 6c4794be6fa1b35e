// shellcheck on every shell script of the repository: each *.sh, and every other file whose
// first line is a sh/bash shebang (bin/healthcheck, .ci/run...), found through git so that new
// scripts (start_all.sh, scripts/*.sh, ...) are checked without being listed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readSync, closeSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, requireTool, run } from './testing.ts';

function firstLine(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(128);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8').split('\n')[0] ?? '';
  } finally {
    closeSync(fd);
  }
}

function shellScripts(): string[] {
  // Tracked files and new ones not ignored (a script being added is checked before its commit).
  const r = run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\0').filter(Boolean).filter((f) => {
    const abs = path.join(ROOT, f);
    try {
      if (!statSync(abs).isFile()) return false;
    } catch {
      return false; // listed by git but deleted in the work tree
    }
    return f.endsWith('.sh') || /^#!\s*(\/usr\/bin\/env\s+)?(\/bin\/|\/usr\/bin\/)?(ba)?sh\b/.test(firstLine(abs));
  }).sort();
}

test('shellcheck passes on every shell script in the repository', (t) => {
  const bin = requireTool(t, 'shellcheck', 'apt-get install shellcheck');
  if (!bin) return;
  const scripts = shellScripts();
  for (const must of ['deploy/start-production.sh', 'deploy/install-systemd.sh', 'scripts/gpu-check.sh']) assert.ok(scripts.includes(must), `${must} found`);
  const r = run(bin, ['--external-sources', '--format=gcc', ...scripts], { cwd: ROOT });
  assert.equal(r.status, 0, `shellcheck findings:\n${r.stdout}${r.stderr}`);
  t.diagnostic(`${scripts.length} scripts: ${scripts.join(' ')}`);
});

test('the shellcheck run reports a real defect (the check can fail)', (t) => {
  const bin = requireTool(t, 'shellcheck', 'apt-get install shellcheck');
  if (!bin) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shellcheck-'));
  try {
    const bad = path.join(dir, 'bad.sh');
    writeFileSync(bad, '#!/usr/bin/env bash\nfor f in $(ls *.txt); do rm $f; done\n');
    const r = run(bin, ['--format=gcc', bad]);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /SC2045|SC2086/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
