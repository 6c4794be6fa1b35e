import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { keepSessionPriority } from './session-priority.ts';

const hasAutogroup = existsSync('/proc/self/autogroup');

/** A detached child (its own session, as the worker starts its job children). */
async function withDetachedChild(fn: (pid: number) => void | Promise<void>): Promise<void> {
  const p = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  await new Promise((r) => p.once('spawn', r));
  try {
    await fn(p.pid!);
  } finally {
    p.kill('SIGKILL');
  }
}

test('the session of a detached child gets the given niceness', async () => {
  await withDetachedChild((pid) => {
    const set = keepSessionPriority(pid, 7);
    if (hasAutogroup) {
      assert.equal(set, 7);
      assert.match(readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim(), /nice 7$/);
      // Only that session: this process's group is untouched.
      assert.doesNotMatch(readFileSync('/proc/self/autogroup', 'utf8').trim(), /nice 7$/);
    } else {
      // No autogroup scheduler here: nothing to keep, and the call says so.
      assert.equal(set, null);
    }
  });
});

test('nice 0 writes nothing; a process that is gone is not an error', async () => {
  await withDetachedChild((pid) => {
    assert.equal(keepSessionPriority(pid, 0), null);
    if (hasAutogroup) assert.match(readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim(), /nice 0$/);
  });
  assert.equal(keepSessionPriority(2 ** 22 + 12345, 5), null);
});
