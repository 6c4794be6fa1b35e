// The service logger: JSON lines with ids as fields, secrets redacted, rotated file output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from './logger.ts';

test('JSON lines with fields, child fields, errors as objects, secrets redacted', async () => {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
  const log = createLogger({ level: 'info', service: 'test', stream });
  log.child({ jobId: 'j1' }).info({ analysisId: 'a1', authorization: 'Bearer secret-key', err: new Error('boom') }, 'job started');
  log.debug({}, 'hidden at info');
  await log.close();
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!);
  assert.equal(rec.message, 'job started');
  assert.equal(rec.jobId, 'j1');
  assert.equal(rec.analysisId, 'a1');
  assert.equal(rec.service, 'test');
  assert.equal(rec.level, 'info');
  assert.equal(rec.authorization, '[redacted]');
  assert.equal(rec.err.message, 'boom');
  assert.ok(!lines[0]!.includes('secret-key'));
});

test('LOG_FILE: a dated, size-limited file is written beside a stable symlink', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'logger-'));
  try {
    const log = createLogger({ level: 'info', service: 'test', file: path.join(dir, 'api.log'), maxSize: '1k', maxFiles: 2, stream: new PassThrough() });
    for (let i = 0; i < 60; i++) log.info({ i, pad: 'x'.repeat(60) }, 'line');
    await log.close();
    await new Promise((r) => setTimeout(r, 200));
    const files = await readdir(dir);
    const dated = files.filter((f) => /^api-\d{4}-\d{2}-\d{2}(\.\d+)?\.log$/.test(f));
    assert.ok(dated.length >= 1 && dated.length <= 2, files.join(','));
    assert.ok(files.includes('api.log'), 'symlink to the current file');
    const content = await readFile(path.join(dir, dated.sort().at(-1)!), 'utf8');
    assert.match(content, /"message":"line"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
