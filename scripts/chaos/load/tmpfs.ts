// A small tmpfs mounted on a directory (needs root): a volume that really fills up, for the
// disk-full scenario. Unmounted again by the caller (lazily if something still holds it open).
import { execFile } from 'node:child_process';
import { mkdir, statfs } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class TmpfsError extends Error {
  override readonly name = 'TmpfsError';
}

export interface MountedTmpfs {
  dir: string;
  sizeBytes: number;
  freeBytes(): Promise<number>;
  unmount(): Promise<void>;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export async function mountTmpfs(dir: string, sizeMb: number): Promise<MountedTmpfs> {
  if (!isRoot()) throw new TmpfsError('mounting a tmpfs needs root');
  await mkdir(dir, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'tmpfs', dir]);
  } catch (e) {
    throw new TmpfsError(`mount -t tmpfs on ${dir} failed: ${(e as Error).message}`, { cause: e });
  }
  let mounted = true;
  return {
    dir,
    sizeBytes: sizeMb * 1024 * 1024,
    async freeBytes() {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    },
    async unmount() {
      if (!mounted) return;
      mounted = false;
      // A process still holding a file there (a job child mid-write) would make a plain umount fail.
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
    },
  };
}
