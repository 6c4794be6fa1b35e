// Helpers shared by the deployment checks in deploy/*.test.ts: YAML with Compose's `!reset`
// tag, a Dockerfile reader, external tools (skipped locally when missing, a failure in CI),
// and stub commands that record how they were called.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { parse, parseAllDocuments, YAMLMap, YAMLSeq, type Tags } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// --- YAML -------------------------------------------------------------------------------------

/** Marks a value Compose's `!reset` tag removes when files are merged. */
export const RESET = Symbol('compose !reset');
export type Reset = { [RESET]: true };
export const isReset = (v: unknown): v is Reset => typeof v === 'object' && v !== null && RESET in v;

const resetTags: Tags = [
  { tag: '!reset', collection: 'seq', nodeClass: YAMLSeq, resolve: () => ({ [RESET]: true }) },
  { tag: '!reset', collection: 'map', nodeClass: YAMLMap, resolve: () => ({ [RESET]: true }) },
  { tag: '!reset', resolve: () => ({ [RESET]: true }) },
];

// Parsed YAML/JSON documents are checked field by field with assertions, not typed up front.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** Parses a Compose file as Compose v2 does (merge keys, `!reset`); throws on any YAML error. */
export function readCompose(file: string): Json {
  return parse(readFileSync(path.resolve(ROOT, file), 'utf8'), { merge: true, customTags: resetTags, prettyErrors: true, strict: true });
}

/** Every document of a multi-document YAML file; throws on any YAML error or warning. */
export function readYamlDocs(file: string): Json[] {
  const docs = parseAllDocuments(readFileSync(path.resolve(ROOT, file), 'utf8'), { prettyErrors: true, strict: true });
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  return docs.map((d, i) => {
    if (d.errors.length || d.warnings.length) throw new Error(`${file} document ${i + 1}: ${[...d.errors, ...d.warnings].map((e) => e.message).join('; ')}`);
    return d.toJS();
  }).filter((d) => d !== null && d !== undefined);
}

/** A copy with every `!reset` value replaced by `replacement` (for schema checks of a single file). */
export function withoutResets(v: Json, replacement: Json = null): Json {
  if (isReset(v)) return replacement;
  if (Array.isArray(v)) return v.map((x) => withoutResets(x, replacement));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutResets(x, replacement)]));
  return v;
}

/**
 * Compose's merge of an override onto a base, for the subset our override files use: mappings
 * merge key by key, scalars replace, `!reset` removes. Compose appends most sequences, so an
 * override with a plain sequence is refused here rather than merged wrongly.
 */
export function mergeCompose(base: Json, override: Json, at = ''): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(override)) {
    const where = `${at}/${k}`;
    if (isReset(v)) delete out[k];
    else if (Array.isArray(v)) throw new Error(`${where}: plain sequences in an override are appended by Compose; mergeCompose does not model that`);
    else if (v && typeof v === 'object' && out[k] && typeof out[k] === 'object' && !Array.isArray(out[k])) out[k] = mergeCompose(out[k], v, where);
    else out[k] = v;
  }
  return out;
}

export interface ComposeMount {
  /** Where the container sees it. */
  target: string;
  /** A named volume, a host path (maybe `${VAR:-default}`), or null for a tmpfs. */
  source: string | null;
  readOnly: boolean;
  /** The tmpfs options (`rw,noexec,size=64m`), null for a volume. */
  tmpfs: string | null;
}

/** Every mount of a Compose service: its volumes (short syntax) and its tmpfs entries. */
export function composeMounts(service: Json): ComposeMount[] {
  const vols = (service.volumes ?? []).map((v: string): ComposeMount => {
    // SOURCE:TARGET[:MODE], where SOURCE may be ${VAR:-default} (which has a colon of its own).
    const m = /^(\$\{[^}]*\}|[^:]+):([^:]+)(?::([a-z,]+))?$/.exec(v);
    if (!m) throw new Error(`not a short-syntax volume: ${v}`);
    return { target: m[2]!, source: m[1]!, readOnly: (m[3] ?? '').split(',').includes('ro'), tmpfs: null };
  });
  const tmpfs = (service.tmpfs ?? []).map((t: string): ComposeMount => ({ target: t.split(':')[0]!, source: null, readOnly: false, tmpfs: t.split(':')[1] ?? '' }));
  return [...vols, ...tmpfs];
}

// --- Dockerfiles ------------------------------------------------------------------------------

export interface Instruction {
  line: number;
  keyword: string;
  args: string;
}

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
export function readDockerfile(file: string): Instruction[] {
  const lines = readFileSync(path.resolve(ROOT, file), 'utf8').split('\n');
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (buf === '' && (line === '' || line.startsWith('#'))) return;
    if (buf !== '' && line.startsWith('#')) return;
    if (buf === '') start = i + 1;
    buf += (buf ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) return;
    const m = /^(\S+)\s*(.*)$/.exec(buf);
    if (m) out.push({ line: start, keyword: m[1]!.toUpperCase(), args: m[2]! });
    buf = '';
  });
  return out;
}

// --- .dockerignore ---------------------------------------------------------------------------

/** The patterns of a .dockerignore file, in order (comments and blank lines dropped). */
export function readDockerignore(file = '.dockerignore'): string[] {
  return readFileSync(path.resolve(ROOT, file), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** A .dockerignore pattern as Docker reads it (moby/patternmatcher): cleaned, `**` any depth. */
function ignoreRegex(pattern: string): RegExp {
  const clean = path.posix.normalize(pattern).replace(/^\/+/, '').replace(/\/+$/, '');
  let re = '';
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i]!;
    if (c === '*' && clean[i + 1] === '*') {
      // `**/` matches zero or more directories; a trailing `**` anything below.
      if (clean[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether Docker leaves `file` (a '/'-separated path in the build context) out: the last
 * pattern that matches the file or one of its parent directories decides, `!` re-includes.
 */
export function dockerIgnores(patterns: string[], file: string): boolean {
  const parents = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const re = ignoreRegex(negated ? raw.slice(1) : raw);
    if (parents.some((p) => re.test(p))) ignored = !negated;
  }
  return ignored;
}

// --- external tools ---------------------------------------------------------------------------

export function which(cmd: string): string | null {
  const r = spawnSync('bash', ['-c', 'command -v "$1"', 'which', cmd], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * The path of an external checker. Missing on a developer's machine: the test is skipped with
 * the install hint. Missing in CI (CI=true): the test fails, since CI must run every check.
 */
export function requireTool(t: TestContext, cmd: string, installHint: string): string | null {
  const found = which(cmd);
  if (found) return found;
  const msg = `${cmd} not installed (${installHint})`;
  if (process.env.CI) throw new Error(`${msg}: CI must run this check`);
  t.skip(msg);
  return null;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
}

// --- stub commands ----------------------------------------------------------------------------

/**
 * Writes executable bash stubs into `dir`. Each appends its name and arguments (one line,
 * space-separated) to `log` before running `body`.
 */
export function writeStubs(dir: string, log: string, stubs: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(stubs)) {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/usr/bin/env bash\nprintf '%s\\n' "${name} $*" >> ${JSON.stringify(log)}\n${body}\n`);
    chmodSync(file, 0o755);
  }
}

/** Lines a stub log recorded (empty when nothing was called). */
export function calls(log: string): string[] {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}
