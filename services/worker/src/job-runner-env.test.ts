import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childEnv, SECRET_ENV_VARS } from './job-runner.ts';

test('a job child gets no credentials from the worker environment', () => {
  const env = { PATH: '/usr/bin', API_KEYS: 'k1,k2', WEBHOOK_SECRET: 'w', DATABASE_URL: 'postgres://u:p@h/d', REDIS_URL: 'redis://:pw@h:6379', MOUNT_PATH: '/media' };
  const out = childEnv(env);
  for (const k of SECRET_ENV_VARS) assert.equal(out[k], undefined, k);
  assert.equal(out.PATH, '/usr/bin');
  assert.equal(out.MOUNT_PATH, '/media');
  assert.equal(env.API_KEYS, 'k1,k2');
});
