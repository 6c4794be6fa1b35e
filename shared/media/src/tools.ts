/**
 * Locating and checking ffmpeg / ffprobe. `resolveTools` is the only place in the media
 * package that reads the environment.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ToolMissingError, lastLines } from './errors.ts';
import { runTool } from './proc.ts';

export interface MediaTools {
  ffmpeg: string;
  ffprobe: string;
}

export interface ToolVersions {
  ffmpegVersion: string;
  ffprobeVersion: string;
  /** Whether this ffmpeg was built with libsoxr (then `resampler: 'soxr'` can be used). */
  soxr: boolean;
}

type Env = Record<string, string | undefined>;

/**
 * ffmpeg from FFMPEG_PATH, ffprobe from FFPROBE_PATH; else the names on PATH. When only
 * FFMPEG_PATH is set (as a path) and an ffprobe sits beside it, that ffprobe is used.
 */
export function resolveTools(env: Env = process.env): MediaTools {
  const ffmpegEnv = nonEmpty(env.FFMPEG_PATH);
  const ffprobeEnv = nonEmpty(env.FFPROBE_PATH);
  const ffmpeg = ffmpegEnv ?? 'ffmpeg';
  let ffprobe = ffprobeEnv ?? 'ffprobe';
  if (!ffprobeEnv && ffmpegEnv && /[\\/]/.test(ffmpegEnv)) {
    const ext = /\.exe$/i.test(ffmpegEnv) ? '.exe' : '';
    const beside = path.join(path.dirname(ffmpegEnv), `ffprobe${ext}`);
    if (existsSync(beside)) ffprobe = beside;
  }
  return { ffmpeg, ffprobe };
}

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

/** Runs `-version` on both tools; throws ToolMissingError naming the variable to set. */
export async function checkTools(tools: MediaTools, opts: { timeoutMs?: number } = {}): Promise<ToolVersions> {
  const [ffmpegOut, ffprobeOut] = await Promise.all([
    versionOf('ffmpeg', tools.ffmpeg, opts.timeoutMs ?? 15000),
    versionOf('ffprobe', tools.ffprobe, opts.timeoutMs ?? 15000),
  ]);
  return {
    ffmpegVersion: parseVersion(ffmpegOut, 'ffmpeg'),
    ffprobeVersion: parseVersion(ffprobeOut, 'ffprobe'),
    soxr: /--enable-libsoxr\b/.test(ffmpegOut),
  };
}

async function versionOf(tool: 'ffmpeg' | 'ffprobe', toolPath: string, timeoutMs: number): Promise<string> {
  let res;
  try {
    res = await runTool(tool, toolPath, ['-hide_banner', '-version'], { timeoutMs, maxStdout: 1024 * 1024 });
  } catch (err) {
    if (err instanceof ToolMissingError) throw err;
    throw new ToolMissingError(tool, toolPath, (err as Error).message, { cause: err });
  }
  const out = res.stdout.toString('utf8');
  if (res.exitCode !== 0 || !new RegExp(`^${tool} version`, 'm').test(out)) {
    const why = res.exitCode !== 0 ? `'-version' exited with ${res.exitCode ?? res.signal}` : `'-version' did not print a ${tool} version`;
    const said = lastLines(res.stderr || out, 2);
    throw new ToolMissingError(tool, toolPath, said ? `${why}: ${said}` : why);
  }
  return out;
}

function parseVersion(out: string, tool: string): string {
  const m = new RegExp(`^${tool} version (\\S+)`, 'm').exec(out);
  return m?.[1] ?? 'unknown';
}
