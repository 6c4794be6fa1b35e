/**
 * Named error classes of the media adapter. Input errors (bad file, bad selection) are
 * not retryable; ToolMissingError is a deployment problem; DecodeError is an unexpected
 * ffmpeg failure; AbortedError reports cancellation.
 */

export type MediaInputErrorCode =
  | 'not_found'
  | 'is_directory'
  | 'not_media'
  | 'no_audio'
  | 'empty'
  | 'corrupt'
  | 'bad_selection'
  | 'permission'
  | 'too_long'
  | 'input_changed';

const REASONS: Record<MediaInputErrorCode, string> = {
  not_found: 'file not found',
  is_directory: 'is a directory, not a file',
  not_media: 'not a readable audio/video file',
  no_audio: 'has no audio streams',
  empty: 'file is empty (0 bytes)',
  corrupt: 'corrupt or unsupported audio, nothing could be decoded',
  bad_selection: 'audio selection does not match the file',
  permission: 'permission denied',
  too_long: 'programme longer than the analysis accepts',
  input_changed: 'the file changed while it was being analysed',
};

/** Bad input from the user: the file or the selection. Never worth retrying. */
export class MediaInputError extends Error {
  override readonly name = 'MediaInputError';
  readonly code: MediaInputErrorCode;
  readonly path: string;
  readonly retryable = false;

  constructor(code: MediaInputErrorCode, path: string, detail?: string, options?: { cause?: unknown }) {
    super(`${path}: ${REASONS[code]}${detail ? ` (${oneLine(detail)})` : ''}`, options);
    this.code = code;
    this.path = path;
  }
}

/** ffmpeg or ffprobe is missing or cannot be run. */
export class ToolMissingError extends Error {
  override readonly name = 'ToolMissingError';
  readonly tool: 'ffmpeg' | 'ffprobe';
  readonly toolPath: string;
  readonly envVar: 'FFMPEG_PATH' | 'FFPROBE_PATH';

  constructor(tool: 'ffmpeg' | 'ffprobe', toolPath: string, detail: string, options?: { cause?: unknown }) {
    const envVar = tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH';
    super(
      `${tool} not found or not runnable at '${toolPath}' (${oneLine(detail)}); install ffmpeg or set ${envVar} to the ${tool} binary`,
      options,
    );
    this.tool = tool;
    this.toolPath = toolPath;
    this.envVar = envVar;
  }
}

/** ffmpeg/ffprobe failed in a way that does not point at the input (killed, timed out, a filter error). */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly path: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderrTail: string;

  readonly tool: 'ffmpeg' | 'ffprobe';

  constructor(
    path: string,
    reason: string,
    info: { exitCode: number | null; signal: string | null; stderrTail: string; tool?: 'ffmpeg' | 'ffprobe' },
    options?: { cause?: unknown },
  ) {
    const tool = info.tool ?? 'ffmpeg';
    const tail = lastLines(info.stderrTail, 5);
    super(`${path}: ${tool} failed: ${reason}${tail ? `; ${tool} said: ${tail}` : ''}`, options);
    this.tool = tool;
    this.path = path;
    this.exitCode = info.exitCode;
    this.signal = info.signal;
    this.stderrTail = info.stderrTail;
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortedError extends Error {
  override readonly name = 'AbortedError';
  constructor(what = 'media operation', options?: { cause?: unknown }) {
    super(`${what} aborted`, options);
  }
}

export function isInputError(e: unknown): e is MediaInputError {
  return e instanceof MediaInputError;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' | ').trim();
}

/** The last `n` non-empty lines of `s`, joined with ' | '. */
export function lastLines(s: string, n: number): string {
  return s
    .split(/\r?\n/)
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/gi, ']').trim())
    .filter((l) => l.length > 0)
    .slice(-n)
    .join(' | ');
}
