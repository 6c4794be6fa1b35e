// scripts/audit.sh (the dependency audit, docs/SECURITY.md) without the network: a stub `npm`
// answers with recorded report shapes (npm 10's auditReportVersion 2, and the error the
// registry gives when it cannot audit); the script must fail on high/critical advisories, pass
// explained exceptions, and say when the audit could not run at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, calls, run, writeStubs } from './testing.ts';

const SCRIPT = path.join(ROOT, 'scripts/audit.sh');

const advisory = (name: string, severity: string, ghsa: string, title: string) => ({
  source: 1000 + name.length,
  name,
  dependency: name,
  title,
  url: `https://github.com/advisories/${ghsa}`,
  severity,
  cwe: ['CWE-400'],
  cvss: { score: 7.5, vectorString: null },
  range: '<2.0.0',
});

function report(vulns: { name: string; severity: string; ghsa: string; title: string; via?: string }[]) {
  const vulnerabilities: Record<string, unknown> = {};
  const counts = { info: 0, low: 0, moderate: 0, high: 0, critical: 0, total: 0 };
  for (const v of vulns) {
    vulnerabilities[v.name] = { name: v.name, severity: v.severity, isDirect: false, via: [advisory(v.name, v.severity, v.ghsa, v.title)], effects: v.via ? [v.via] : [], range: '<2.0.0', nodes: [`node_modules/${v.name}`], fixAvailable: true };
    if (v.via) vulnerabilities[v.via] = { name: v.via, severity: v.severity, isDirect: true, via: [v.name], effects: [], range: '*', nodes: [`node_modules/${v.via}`], fixAvailable: true };
    counts[v.severity as keyof typeof counts]++;
    counts.total++;
  }
  return { auditReportVersion: 2, vulnerabilities, metadata: { vulnerabilities: counts, dependencies: { prod: 321, dev: 0, optional: 0, peer: 0, peerOptional: 0, total: 321 } } };
}

function sandbox() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'audit-sh-'));
  const log = path.join(dir, 'calls.log');
  const reportFile = path.join(dir, 'report.json');
  // npm exits 1 whenever it reports advisories or cannot audit, as the real one does.
  writeStubs(path.join(dir, 'bin'), log, { npm: `printf 'cwd %s\\n' "$PWD" >> ${JSON.stringify(log)}\ncat ${JSON.stringify(reportFile)}\nexit 1` });
  const exec = (body: unknown, env: Record<string, string> = {}, args: string[] = []) => {
    writeFileSync(reportFile, typeof body === 'string' ? body : JSON.stringify(body));
    return run('bash', [SCRIPT, ...args], { env: { PATH: `${path.join(dir, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, AUDIT_EXCEPTIONS: path.join(dir, 'none.txt'), ...env } });
  };
  return { dir, log, exec, close: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a high or critical advisory fails the audit (exit 1) and is named; npm is asked about production dependencies only', () => {
  const s = sandbox();
  try {
    const r = s.exec(report([{ name: 'multer', severity: 'high', ghsa: 'GHSA-44fp-w29j-9vj5', title: 'DoS via malformed request', via: 'express-upload' }, { name: 'cookie', severity: 'moderate', ghsa: 'GHSA-pxg6-pf52-xh8x', title: 'out of bounds characters' }]));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /high\s+multer@<2\.0\.0\s+GHSA-44FP-W29J-9VJ5\s+DoS via malformed request \(fix available\)/);
    assert.match(r.stdout, /moderate\s+cookie/);
    assert.match(r.stdout, /FAILED: 1 high\/critical/);
    assert.match(r.stdout, /321 production dependencies; advisories: critical 0, high 1, moderate 1/);
    assert.deepEqual(calls(s.log), ['npm audit --omit=dev --json', `cwd ${ROOT}`]);
    // The same as one JSON object.
    const j = s.exec(report([{ name: 'multer', severity: 'critical', ghsa: 'GHSA-44fp-w29j-9vj5', title: 'x' }]), {}, ['--json']);
    assert.equal(j.status, 1);
    const parsed = JSON.parse(j.stdout);
    assert.equal(parsed.ok, false);
    assert.deepEqual(parsed.blocking, ['GHSA-44FP-W29J-9VJ5']);
  } finally {
    s.close();
  }
});

test('moderate and low advisories alone pass; an explained exception passes; a stale exception is reported', () => {
  const s = sandbox();
  try {
    const low = s.exec(report([{ name: 'cookie', severity: 'moderate', ghsa: 'GHSA-pxg6-pf52-xh8x', title: 'x' }, { name: 'qs', severity: 'low', ghsa: 'GHSA-hrpp-h998-j3pp', title: 'y' }]));
    assert.equal(low.status, 0, low.stdout + low.stderr);
    assert.match(low.stdout, /audit: ok/);
    const exceptions = path.join(s.dir, 'exceptions.txt');
    writeFileSync(exceptions, '# reviewed 2026-11-29\nGHSA-44fp-w29j-9vj5  only the CLI parses multipart, the service never does\nGHSA-jjjj-jjjj-jjjj  fixed upstream, kept by mistake\n');
    const ex = s.exec(report([{ name: 'multer', severity: 'high', ghsa: 'GHSA-44fp-w29j-9vj5', title: 'x' }]), { AUDIT_EXCEPTIONS: exceptions });
    assert.equal(ex.status, 0, ex.stdout + ex.stderr);
    assert.match(ex.stdout, /\[exception: only the CLI parses multipart, the service never does\]/);
    assert.match(ex.stdout, /stale exception: GHSA-JJJJ-JJJJ-JJJJ/);
    writeFileSync(exceptions, 'GHSA-44fp-w29j-9vj5\n');
    const bad = s.exec(report([]), { AUDIT_EXCEPTIONS: exceptions });
    assert.equal(bad.status, 2, 'an exception without a reason is refused');
    assert.match(bad.stderr, /not "GHSA-id reason"/);
  } finally {
    s.close();
  }
});

test('when the registry cannot audit, or npm says nothing useful, the audit is not "clean": exit 2 with the reason', () => {
  const s = sandbox();
  try {
    // What a registry without the advisory endpoint answers (seen here: a mirror allowing GET only).
    const refused = s.exec({ message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk', method: 'POST', statusCode: 405, body: '' });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /could not run: 405 Method Not Allowed/);
    const offline = s.exec({ error: { code: 'ENOTFOUND', summary: 'request to https://registry.npmjs.org failed', detail: '' } });
    assert.equal(offline.status, 2);
    assert.match(offline.stderr, /could not run: request to https:\/\/registry\.npmjs\.org failed/);
    const garbage = s.exec('npm ERR! something\n');
    assert.equal(garbage.status, 2);
    assert.match(garbage.stderr, /no JSON report/);
  } finally {
    s.close();
  }
});
