// Confinement of client-supplied paths to the media root (reading) and the output root
// (writing). Every path a client sends goes through here: it is checked lexically first (no
// `..`, no NUL), then resolved with realpath so that no symlink, at any level, can lead out of
// the root. Errors name the path as the client gave it, never a server path outside the root.
import { mkdir, open, readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';

export type PathErrorCode = 'outside_root' | 'not_found' | 'not_a_file' | 'not_a_directory' | 'bad_path';

const STATUS: Record<PathErrorCode, number> = {
  bad_path: 400,
  not_a_file: 400,
  not_a_directory: 400,
  outside_root: 403,
  not_found: 404,
};

const DESCRIPTION: Record<PathErrorCode, string> = {
  bad_path: 'is not an acceptable path',
  not_a_file: 'is not a file',
  not_a_directory: 'is not a directory',
  outside_root: 'is outside the allowed root',
  not_found: 'was not found',
};

export class PathError extends Error {
  override readonly name = 'PathError';
  /** HTTP status to answer with. */
  readonly status: number;
  constructor(
    readonly code: PathErrorCode,
    /** The path as the client gave it. */
    readonly path: string,
    detail?: string,
    options?: ErrorOptions,
  ) {
    super(`${JSON.stringify(clip(path))} ${DESCRIPTION[code]}${detail ? `: ${detail}` : ''}`, options);
    this.status = STATUS[code];
  }
}

/** Keeps messages short when a client sends something huge. */
const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);

/** Extensions listed as media (audio or video containers ffmpeg reads). */
const MEDIA_EXTENSIONS = new Set([
  'wav', 'wave', 'bwf', 'aif', 'aiff', 'aifc', 'flac', 'mp3', 'mp2', 'm4a', 'aac', 'ac3', 'eac3', 'ec3', 'dts', 'thd', 'mlp',
  'opus', 'ogg', 'oga', 'wma', 'w64', 'rf64', 'caf', 'au', 'snd', 'mka',
  'mov', 'mp4', 'm4v', 'mkv', 'mxf', 'avi', 'webm', 'ts', 'm2ts', 'mts', 'mpg', 'mpeg', 'vob', 'wmv', 'flv', '3gp', 'dv', 'gxf', 'y4m',
]);

export function isMediaName(name: string): boolean {
  return MEDIA_EXTENSIONS.has(path.extname(name).slice(1).toLowerCase());
}

export interface ResolvedPath {
  /** Real path on this server (symlinks resolved). */
  absolute: string;
  /** Relative to the root, '/'-separated; '.' for the root itself. */
  relative: string;
}

export interface DirEntry {
  name: string;
  /** Relative to the root, usable as input to the other methods. */
  path: string;
  type: 'dir' | 'file';
  /** Bytes for files, null for directories. */
  size: number | null;
  /** ISO 8601 UTC. */
  mtime: string;
  /** The extension looks like audio or video. */
  media: boolean;
}

export interface Listing {
  /** The listed directory, relative to the root. */
  path: string;
  entries: DirEntry[];
  /** More entries existed than the limit allowed. */
  truncated: boolean;
}

export interface ListOptions {
  /** Most entries returned (1..10000, default 1000). */
  limit?: number;
  /** Include names starting with '.' (default false). */
  showHidden?: boolean;
}

const DEFAULT_LIST_LIMIT = 1000;
const MAX_LIST_LIMIT = 10000;
const collator = new Intl.Collator('en', { numeric: true });

/** A directory tree clients may read from. */
export class MediaRoot {
  protected constructor(
    /** realpath of the root. */
    readonly realRoot: string,
    /** The root as configured (absolute, symlinks not resolved): absolute client paths may use it too. */
    protected readonly givenRoot: string,
  ) {}

  static async open(root: string): Promise<MediaRoot> {
    const { real, given } = await openRoot(root);
    return new MediaRoot(real, given);
  }

  /** An existing regular file inside the root. */
  async resolveFile(p: string): Promise<ResolvedPath> {
    const r = await this.resolveExisting(p);
    if (!r.stats.isFile()) throw new PathError('not_a_file', p);
    return { absolute: r.absolute, relative: r.relative };
  }

  /** An existing directory inside the root ('.' is the root itself). */
  async resolveDir(p: string): Promise<ResolvedPath> {
    const r = await this.resolveExisting(p);
    if (!r.stats.isDirectory()) throw new PathError('not_a_directory', p);
    return { absolute: r.absolute, relative: r.relative };
  }

  /**
   * The directory's files and subdirectories: directories first, then by name (numbers in
   * names compare as numbers). Symlinks are followed only when they stay inside the root;
   * others (and dangling ones, sockets, devices) are left out.
   */
  async list(p = '.', opts: ListOptions = {}): Promise<Listing> {
    const dir = await this.resolveDir(p);
    const limit = Math.min(MAX_LIST_LIMIT, Math.max(1, Math.floor(opts.limit ?? DEFAULT_LIST_LIMIT)));
    let dirents;
    try {
      dirents = await readdir(dir.absolute, { withFileTypes: true });
    } catch (err) {
      throw fsError(err, p);
    }
    // Types first (dirent types cost nothing; only symlinks need resolving), so that sorting and
    // the limit come before the per-entry stat calls.
    const typed: { name: string; type: 'dir' | 'file'; full: string }[] = [];
    for (const d of dirents) {
      if (!opts.showHidden && d.name.startsWith('.')) continue;
      const full = path.join(dir.absolute, d.name);
      if (d.isDirectory()) typed.push({ name: d.name, type: 'dir', full });
      else if (d.isFile()) typed.push({ name: d.name, type: 'file', full });
      else if (d.isSymbolicLink()) {
        const target = await realpath(full).catch(() => null);
        if (target === null || !this.contains(target)) continue;
        const st = await stat(target).catch(() => null);
        if (st?.isDirectory()) typed.push({ name: d.name, type: 'dir', full: target });
        else if (st?.isFile()) typed.push({ name: d.name, type: 'file', full: target });
      }
    }
    typed.sort((a, b) => (a.type === b.type ? collator.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.type === 'dir' ? -1 : 1));
    const entries: DirEntry[] = [];
    for (const t of typed.slice(0, limit)) {
      // Removed since readdir: left out rather than failing the whole listing.
      const st = await stat(t.full).catch(() => null);
      if (!st) continue;
      entries.push({
        name: t.name,
        path: dir.relative === '.' ? t.name : `${dir.relative}/${t.name}`,
        type: t.type,
        size: t.type === 'file' ? st.size : null,
        mtime: st.mtime.toISOString(),
        media: t.type === 'file' && isMediaName(t.name),
      });
    }
    return { path: dir.relative, entries, truncated: typed.length > limit };
  }

  /** Whether a real (symlink-free) absolute path is the root or inside it. */
  protected contains(real: string): boolean {
    return relativeInside(this.realRoot, real) !== null;
  }

  /** Checks the path lexically and maps it to a path under the real root (not resolved yet). */
  protected lexical(p: string, allowRoot = true): string {
    if (typeof p !== 'string' || p.trim() === '') throw new PathError('bad_path', String(p), 'empty');
    if (p.includes('\0')) throw new PathError('bad_path', p.replaceAll('\0', '\\0'), 'contains a NUL byte');
    // Backslashes too: on this platform they are name characters, but a `..\` would mean
    // traversal to anyone reading the path on Windows, so it is refused the same way.
    if (p.split(/[\\/]+/).some((s) => s === '..')) throw new PathError('bad_path', p, "'..' is not allowed");
    let rel: string;
    if (path.isAbsolute(p)) {
      const norm = path.resolve(p);
      const inside = relativeInside(this.realRoot, norm) ?? relativeInside(this.givenRoot, norm);
      if (inside === null) throw new PathError('outside_root', p);
      rel = inside;
    } else {
      rel = path.normalize(p);
    }
    const candidate = path.resolve(this.realRoot, rel);
    // normalize() cannot climb above a relative start without '..', so this only guards odd input.
    if (relativeInside(this.realRoot, candidate) === null) throw new PathError('outside_root', p);
    if (!allowRoot && candidate === this.realRoot) throw new PathError('bad_path', p, 'the root itself');
    return candidate;
  }

  private async resolveExisting(p: string): Promise<ResolvedPath & { stats: Stats }> {
    const candidate = this.lexical(p);
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (err) {
      throw fsError(err, p);
    }
    const relative = relativeInside(this.realRoot, real);
    if (relative === null) throw new PathError('outside_root', p);
    let stats: Stats;
    try {
      stats = await stat(real);
    } catch (err) {
      throw fsError(err, p);
    }
    return { absolute: real, relative, stats };
  }
}

/** A directory tree the server writes into (repaired files); also readable like a MediaRoot. */
export class OutputRoot extends MediaRoot {
  /** Creates the root when it does not exist yet. */
  static override async open(root: string): Promise<OutputRoot> {
    await mkdir(path.resolve(root), { recursive: true });
    const { real, given } = await openRoot(root);
    return new OutputRoot(real, given);
  }

  /**
   * Reserves a new file `fileName` in `relativeDir` (created as needed, '' or '.' for the root):
   * an empty file is created exclusively, so two callers never get the same name. When the name
   * is taken, `name (1).ext`, `name (2).ext`... is used instead.
   */
  async allocate(relativeDir: string, fileName: string): Promise<ResolvedPath> {
    if (typeof fileName !== 'string' || fileName === '' || fileName === '.' || fileName === '..' || /[\\/\0]/.test(fileName)) {
      throw new PathError('bad_path', String(fileName).replaceAll('\0', '\\0'), 'a file name must be one plain path segment');
    }
    const dirInput = relativeDir === '' ? '.' : relativeDir;
    const candidate = this.lexical(dirInput);
    // One level at a time, re-resolving after each, so that a symlinked component leading out
    // of the root is caught before anything is created beyond it.
    let current = this.realRoot;
    const segments = path.relative(this.realRoot, candidate).split(path.sep).filter((s) => s !== '' && s !== '.');
    for (const seg of segments) {
      const next = path.join(current, seg);
      try {
        await mkdir(next);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, relativeDir);
      }
      let real: string;
      try {
        real = await realpath(next);
      } catch (err) {
        throw fsError(err, relativeDir);
      }
      if (!this.contains(real)) throw new PathError('outside_root', relativeDir);
      const st = await stat(real);
      if (!st.isDirectory()) throw new PathError('not_a_directory', relativeDir);
      current = real;
    }
    const ext = path.extname(fileName);
    const base = ext ? fileName.slice(0, -ext.length) : fileName;
    for (let n = 0; n < 10000; n++) {
      const name = n === 0 ? fileName : `${base} (${n})${ext}`;
      const absolute = path.join(current, name);
      try {
        // O_EXCL: fails on any existing entry, a symlink included (it is not followed).
        const fh = await open(absolute, 'wx');
        await fh.close();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw fsError(err, fileName);
      }
      return { absolute, relative: relativeInside(this.realRoot, absolute)! };
    }
    throw new PathError('bad_path', fileName, 'no free name left');
  }
}

async function openRoot(root: string): Promise<{ real: string; given: string }> {
  const given = path.resolve(root);
  let real: string;
  try {
    real = await realpath(given);
  } catch (err) {
    throw fsError(err, root);
  }
  const st = await stat(real);
  if (!st.isDirectory()) throw new PathError('not_a_directory', root);
  return { real, given };
}

/** '/'-separated path of `p` relative to `root` ('.' for the root), or null when outside. */
function relativeInside(root: string, p: string): string | null {
  const rel = path.relative(root, p);
  if (rel === '') return '.';
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

function fsError(err: unknown, p: string): PathError {
  const code = (err as NodeJS.ErrnoException).code;
  // ENOTDIR: a file used as a directory component; ELOOP: a symlink cycle.
  if (code === 'ENOENT' || code === 'ENOTDIR') return new PathError('not_found', p, undefined, { cause: err });
  if (code === 'ELOOP') return new PathError('bad_path', p, 'too many symbolic links', { cause: err });
  // Unreadable to the server: to the client that is as good as absent.
  if (code === 'EACCES' || code === 'EPERM') return new PathError('not_found', p, 'permission denied', { cause: err });
  if (code === 'ENAMETOOLONG') return new PathError('bad_path', p, 'name too long', { cause: err });
  return new PathError('not_found', p, code, { cause: err });
}
