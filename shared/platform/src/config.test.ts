import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, Env, loadConfig } from './config.ts';

const envExample = fileURLToPath(new URL('../../../.env.example', import.meta.url));

describe('loadConfig', () => {
  test('embedded defaults: SQLite under DATA_DIR, auth off, development', () => {
    const c = loadConfig({});
    assert.equal(c.env, 'development');
    assert.equal(c.port, 8080);
    assert.deepEqual(c.database, { client: 'sqlite', filename: './data/sync-analyzer.sqlite' });
    assert.deepEqual(c.apiKeys, []);
    assert.equal(c.strictRedisChecks, false);
  });
  test('an empty variable counts as unset', () => {
    const c = loadConfig({ PORT: '', DATABASE_URL: '  ', API_KEYS: '' });
    assert.equal(c.port, 8080);
    assert.equal(c.database.client, 'sqlite');
  });
  test('values are parsed: PostgreSQL URL, key list, production strictness', () => {
    const c = loadConfig({ NODE_ENV: 'production', PORT: '9000', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/sa', API_KEYS: 'a, b,,c', WORKER_CONCURRENCY: '3' });
    assert.equal(c.port, 9000);
    assert.deepEqual(c.database, { client: 'pg', url: 'postgres://postgres@127.0.0.1:5432/sa' });
    assert.deepEqual(c.apiKeys, ['a', 'b', 'c']);
    assert.equal(c.workerConcurrency, 3);
    assert.equal(c.strictRedisChecks, true);
  });
  test('bad values fail with a message naming each variable', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty', WORKER_CONCURRENCY: '0', LOG_LEVEL: 'loud' }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      for (const name of ['PORT', 'WORKER_CONCURRENCY', 'LOG_LEVEL']) assert.match(e.message, new RegExp(name), e.message);
      assert.equal(e.problems.length, 3);
      return true;
    });
  });
  test('a non-PostgreSQL DATABASE_URL is refused, naming it', () => {
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x@y/z' }), /DATABASE_URL: only postgres/);
  });
  test('SSE_MAX_SUBSCRIBERS: default 200, parsed, and a bad value named', () => {
    assert.equal(loadConfig({}).sseMaxSubscribers, 200);
    assert.equal(loadConfig({ SSE_MAX_SUBSCRIBERS: '6' }).sseMaxSubscribers, 6);
    assert.throws(() => loadConfig({ SSE_MAX_SUBSCRIBERS: '0' }), /SSE_MAX_SUBSCRIBERS/);
  });
  test('TRUST_PROXY: loopback by default; none, hop counts, address lists; a bad value named', () => {
    assert.deepEqual(loadConfig({}).trustProxy, ['loopback']);
    assert.equal(loadConfig({ TRUST_PROXY: 'none' }).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8 , 192.168.1.7' }).trustProxy, ['loopback', '10.0.0.0/8', 'fd00::/8', '192.168.1.7']);
    for (const bad of ['0', '11', 'everyone', '10.0.0.0/33', '10.0.0/8', 'true', 'fd00::/129', ',']) {
      assert.throws(() => loadConfig({ TRUST_PROXY: bad }), (e: unknown) => e instanceof ConfigError && /TRUST_PROXY/.test(e.message), bad);
    }
  });
  test('SPEECH_SAMPLE_RATE: 8000 on cpu and 16000 on cuda by default, either on request, anything else named', () => {
    assert.equal(loadConfig({}).inference.sampleRate, 8000);
    assert.equal(loadConfig({ INFERENCE_PROVIDER: 'cuda' }).inference.sampleRate, 16000);
    assert.equal(loadConfig({ INFERENCE_PROVIDER: 'cuda', SPEECH_SAMPLE_RATE: '8000' }).inference.sampleRate, 8000);
    assert.equal(loadConfig({ SPEECH_SAMPLE_RATE: '16000' }).inference.sampleRate, 16000);
    assert.equal(loadConfig({ SPEECH_SAMPLE_RATE: '' }).inference.sampleRate, 8000);
    assert.throws(() => loadConfig({ SPEECH_SAMPLE_RATE: '44100' }), /SPEECH_SAMPLE_RATE/);
  });
  test('a password in a refused URL is not echoed', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'mysql://user:S3cretPw@db/z' }),
      (e: Error) => e.message.includes('mysql://user:***@db/z') && !e.message.includes('S3cretPw'),
    );
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'not a url S3cretPw' }),
      (e: Error) => /DATABASE_URL/.test(e.message),
    );
  });
});

test('.env.example documents every variable and parses as it stands', () => {
  const entries = readFileSync(envExample, 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
  const names = entries.map(([k]) => k);
  for (const key of Object.keys(Env.shape)) assert.ok(names.includes(key), `${key} missing from .env.example`);
  loadConfig(Object.fromEntries(entries));
});
