// Shared playhead between the A/B player, the offset plot and the energy overview: the player
// publishes its master time; a click on a plot asks the player to seek there.
import { useEffect, useState } from 'preact/hooks';

export class PlayheadBus {
  private value = 0;
  private readonly subs = new Set<(t: number) => void>();
  seekHandler: ((t: number) => void) | null = null;
  playHandler: (() => void) | null = null;

  get time(): number {
    return this.value;
  }

  publish(t: number): void {
    if (t === this.value) return;
    this.value = t;
    for (const f of this.subs) f(t);
  }

  subscribe(fn: (t: number) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  requestSeek(t: number): void {
    if (this.seekHandler) this.seekHandler(t);
    else this.publish(t);
  }

  /** Seeks there and plays (a "listen" button); only seeks until the player is loaded. */
  listenAt(t: number): void {
    this.requestSeek(t);
    this.playHandler?.();
  }
}

export function usePlayhead(bus: PlayheadBus): number {
  const [t, setT] = useState(bus.time);
  useEffect(() => bus.subscribe(setT), [bus]);
  return t;
}
