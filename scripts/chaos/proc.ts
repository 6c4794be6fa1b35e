// The process table from /proc (Linux): parent, process group, RSS and environment of every
// process, so the chaos suite can find a worker's job children, check that a killed job left no
// orphan behind, and measure memory, without shelling out to ps.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
  /** Executable name as the kernel shows it (15 characters at most). */
  comm: string;
  /** 'R', 'S', 'Z' (zombie), 'T' (stopped)... */
  state: string;
}

/** Every process visible now. Entries that vanish while being read are skipped. */
export function processTable(): Map<number, ProcEntry> {
  const out = new Map<number, ProcEntry>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const e = readStat(Number(name));
    if (e) out.set(e.pid, e);
  }
  return out;
}

export function readStat(pid: number): ProcEntry | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm is in parentheses and may itself contain spaces or parentheses: split at the last ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return { pid, comm: text.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]), pgid: Number(rest[2]) };
}

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  const e = readStat(pid);
  return e !== null && e.state !== 'Z' && e.state !== 'X';
}

/** Resident set size in kB (VmRSS), or null when the process is gone. */
export function rssKb(pid: number): number | null {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return null;
  }
}

/** Every descendant of pid (children, grandchildren...), from one table snapshot. */
export function descendants(pid: number, table: Map<number, ProcEntry> = processTable()): ProcEntry[] {
  const byParent = new Map<number, ProcEntry[]>();
  for (const e of table.values()) byParent.set(e.ppid, [...(byParent.get(e.ppid) ?? []), e]);
  const out: ProcEntry[] = [];
  const walk = (p: number) => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(pid);
  return out;
}

/** Live (non-zombie) processes whose process group is one of these. */
export function membersOfGroups(pgids: Iterable<number>, table: Map<number, ProcEntry> = processTable()): ProcEntry[] {
  const set = new Set(pgids);
  return [...table.values()].filter((e) => set.has(e.pgid) && e.state !== 'Z' && e.state !== 'X');
}

/** One variable of a process's environment at its start (null: gone, unreadable or unset). */
export function environOf(pid: number, name: string): string | null {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'latin1');
    const hit = raw.split('\0').find((kv) => kv.startsWith(`${name}=`));
    return hit === undefined ? null : hit.slice(name.length + 1);
  } catch {
    return null;
  }
}

/**
 * CPU seconds used by this process and by every child it has waited for (their children
 * included, once reaped): utime + stime + cutime + cstime from /proc/self/stat.
 */
export function cpuSecondsWithChildren(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 of stat (1-based) are utime, stime, cutime, cstime; f starts at field 3.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i]), 0);
  return ticks / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK) is not reachable from Node). */
const CLOCK_TICKS = 100;
