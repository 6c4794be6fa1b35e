// checkRedisSettings against real redis-servers started with good and bad settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { checkRedisSettings } from './redis.ts';
import { freePort } from '../../../e2e/net.ts';

async function withRedis(args: string[], fn: (r: Redis) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'redis-settings-'));
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((res) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); res(true); }).once('error', () => res(false)));
    if (up) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await fn(r);
  } finally {
    r.disconnect();
    proc.kill();
    await new Promise((res) => proc.once('exit', res));
    await rm(dir, { recursive: true, force: true });
  }
}

test('a queue-safe Redis passes in production', async () => {
  await withRedis(['--appendonly', 'yes', '--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'], async (r) => {
    const rep = await checkRedisSettings(r, true);
    assert.deepEqual(rep.problems, []);
    assert.equal(rep.settings.appendonly, 'yes');
    assert.equal(rep.settings.maxmemory, 64 * 1024 * 1024);
  });
});

test('eviction, no memory limit and no AOF are each named; AOF only matters in production', async () => {
  await withRedis(['--appendonly', 'no', '--maxmemory', '0', '--maxmemory-policy', 'allkeys-lru'], async (r) => {
    const prod = await checkRedisSettings(r, true);
    assert.equal(prod.ok, false);
    assert.equal(prod.problems.length, 3);
    assert.match(prod.problems.join('\n'), /noeviction/);
    assert.match(prod.problems.join('\n'), /maxmemory is not set/);
    assert.match(prod.problems.join('\n'), /appendonly/);
    const dev = await checkRedisSettings(r, false);
    assert.equal(dev.problems.length, 2);
  });
});
