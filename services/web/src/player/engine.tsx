// The A/B listening engine: master in the left ear, dub in the right, on one AudioContext
// clock. Both proxies are decoded into AudioBuffers and played by AudioBufferSourceNodes
// started at exact context times, so the two ears stay sample-locked after a seek or a toggle
// (media elements drift and seek to the nearest packet). Corrected mode plays the dub at the
// time mapped from the master time through the segments, at each segment's speed ratio.
import { dubTimeInPieces, masterToDub, playbackPieces, type ListenMode, type PlaybackPiece, type SegmentLine } from '../lib/mapping.ts';

/** Scheduling lead: sources start this far ahead so both start on the same render quantum. */
const LEAD = 0.05;
/** The proxies' own rate: decoding at it keeps the buffers at 64 KB per second per side. */
export const PROXY_RATE = 16_000;

export interface PlayerState {
  playing: boolean;
  mode: ListenMode;
  /** Master time being heard (seconds). */
  masterTime: number;
  /** Dub time being heard in the right ear (null while the dub is silent). */
  dubTime: number | null;
  /** Where the dub should be for this master time in this mode (null: no counterpart). */
  expectedDubTime: number | null;
  masterDuration: number;
  dubDuration: number;
  contextTime: number;
  sampleRate: number;
}

interface Scheduled {
  node: AudioBufferSourceNode;
}

export class AbEngine {
  readonly ctx: AudioContext;
  private readonly masterGain: GainNode;
  private readonly dubGain: GainNode;
  private readonly taps: [AnalyserNode, AnalyserNode];
  private masterNode: Scheduled | null = null;
  private dubNodes: Scheduled[] = [];
  /** Dub pieces in effect from master time `switchAt` on; `previous` before it. */
  private pieces: PlaybackPiece[] = [];
  private previous: PlaybackPiece[] = [];
  private switchAt = -Infinity;
  private anchorCtx = 0;
  private anchorMaster = 0;
  private endTimer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<() => void>();
  playing = false;
  mode: ListenMode = 'corrected';

  constructor(
    ctx: AudioContext,
    private readonly master: AudioBuffer,
    private readonly dub: AudioBuffer,
    private readonly segments: readonly SegmentLine[],
  ) {
    this.ctx = ctx;
    const merger = ctx.createChannelMerger(2);
    merger.connect(ctx.destination);
    this.masterGain = ctx.createGain();
    this.dubGain = ctx.createGain();
    this.masterGain.connect(merger, 0, 0);
    this.dubGain.connect(merger, 0, 1);
    // What each ear receives, for the alignment check (cheap: read only on request).
    this.taps = [ctx.createAnalyser(), ctx.createAnalyser()];
    for (const t of this.taps) t.fftSize = 32768;
    this.masterGain.connect(this.taps[0]);
    this.dubGain.connect(this.taps[1]);
    if (segments.length === 0) this.mode = 'uncorrected';
  }

  get canCorrect(): boolean {
    return this.segments.length > 0;
  }

  get masterDuration(): number {
    return this.master.duration;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed() {
    for (const f of this.listeners) f();
  }

  /** Master time heard now. */
  position(): number {
    if (!this.playing) return this.anchorMaster;
    return Math.min(this.master.duration, this.anchorMaster + Math.max(0, this.ctx.currentTime - this.anchorCtx));
  }

  private expected(m: number): number | null {
    const d = this.mode === 'corrected' && this.canCorrect ? masterToDub(this.segments, m) : m;
    return d === null || d < 0 || d > this.dub.duration ? null : d;
  }

  state(): PlayerState {
    const m = this.position();
    let dubTime: number | null;
    if (this.playing) dubTime = dubTimeInPieces(m < this.switchAt ? this.previous : this.pieces, m);
    else dubTime = this.expected(m);
    return {
      playing: this.playing,
      mode: this.mode,
      masterTime: m,
      dubTime,
      expectedDubTime: this.expected(m),
      masterDuration: this.master.duration,
      dubDuration: this.dub.duration,
      contextTime: this.ctx.currentTime,
      sampleRate: this.ctx.sampleRate,
    };
  }

  async play(): Promise<void> {
    if (this.playing) return;
    await this.ctx.resume();
    if (this.anchorMaster >= this.master.duration - 0.01) this.anchorMaster = 0;
    this.start(this.anchorMaster);
    this.changed();
  }

  pause(): void {
    if (!this.playing) return;
    const p = this.position();
    this.stopAll();
    this.playing = false;
    this.anchorMaster = p;
    this.changed();
  }

  seek(t: number): void {
    const to = Math.max(0, Math.min(this.master.duration, t));
    if (this.playing) {
      this.stopAll();
      this.start(to);
    } else this.anchorMaster = to;
    this.changed();
  }

  setMode(mode: ListenMode): void {
    if (mode === this.mode || (mode === 'corrected' && !this.canCorrect)) return;
    this.mode = mode;
    if (this.playing) {
      // The master keeps playing; the dub switches at one exact context time.
      const at = this.ctx.currentTime + LEAD;
      const from = this.anchorMaster + (at - this.anchorCtx);
      for (const d of this.dubNodes) {
        try {
          d.node.stop(at);
        } catch {
          // Already ended: nothing to stop.
        }
      }
      this.previous = this.pieces;
      this.switchAt = from;
      this.dubNodes = this.scheduleDub(from, at);
    }
    this.changed();
  }

  /** The last ~2 s (at 16 kHz) each ear received, for checking the alignment by correlation. */
  capture(): { left: Float32Array; right: Float32Array; sampleRate: number; contextTime: number } {
    const [l, r] = this.taps;
    const left = new Float32Array(l.fftSize);
    const right = new Float32Array(r.fftSize);
    l.getFloatTimeDomainData(left);
    r.getFloatTimeDomainData(right);
    return { left, right, sampleRate: this.ctx.sampleRate, contextTime: this.ctx.currentTime };
  }

  async close(): Promise<void> {
    this.stopAll();
    this.playing = false;
    this.listeners.clear();
    await this.ctx.close().catch(() => undefined);
  }

  private start(from: number) {
    const at = this.ctx.currentTime + LEAD;
    this.anchorCtx = at;
    this.anchorMaster = from;
    this.playing = true;
    const node = this.ctx.createBufferSource();
    node.buffer = this.master;
    node.connect(this.masterGain);
    node.start(at, from);
    this.masterNode = { node };
    this.previous = [];
    this.switchAt = -Infinity;
    this.dubNodes = this.scheduleDub(from, at);
    // Stop at the end of the master (the position is clamped there meanwhile).
    this.endTimer = setTimeout(() => this.pause(), ((this.master.duration - from) + LEAD) * 1000 + 50);
  }

  private scheduleDub(from: number, at: number): Scheduled[] {
    this.pieces = playbackPieces(this.segments, this.mode, from, this.dub.duration);
    return this.pieces.map((p) => {
      const node = this.ctx.createBufferSource();
      node.buffer = this.dub;
      node.playbackRate.value = p.rate;
      node.connect(this.dubGain);
      node.start(at + (p.masterFrom - from), p.dubFrom);
      if (Number.isFinite(p.masterTo)) node.stop(at + (p.masterTo - from));
      return { node };
    });
  }

  private stopAll() {
    if (this.endTimer) clearTimeout(this.endTimer);
    this.endTimer = null;
    for (const s of [this.masterNode, ...this.dubNodes]) {
      if (!s) continue;
      try {
        s.node.stop();
      } catch {
        // Never started (scheduled in the future and already stopped): nothing to do.
      }
      s.node.disconnect();
    }
    this.masterNode = null;
    this.dubNodes = [];
  }
}

/** An AudioContext at the proxies' rate when the browser allows it (no resampling, less memory). */
export function createContext(): AudioContext {
  try {
    return new AudioContext({ sampleRate: PROXY_RATE, latencyHint: 'interactive' });
  } catch {
    return new AudioContext();
  }
}
