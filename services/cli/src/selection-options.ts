// Maps CLI stream/channel options to the media library's audio selection.
import type { AudioSelection } from '@sync-analyzer/media';

export interface SelectionFlags {
  stream?: string;
  channel?: string;
  mix?: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

function index(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} must be a non-negative integer, got "${value}"`);
  return n;
}

export function toSelection(flags: SelectionFlags, who: string): AudioSelection {
  const audioIndex = flags.stream !== undefined ? index(flags.stream, `--${who}-stream`) : undefined;
  if (flags.channel !== undefined) {
    const channel = index(flags.channel, `--${who}-channel`);
    return audioIndex !== undefined ? { kind: 'channel', audioIndex, channel } : { kind: 'channel', channel };
  }
  if (audioIndex !== undefined) return { kind: 'stream', audioIndex };
  if (flags.mix) return { kind: 'mix' };
  return { kind: 'auto' };
}
