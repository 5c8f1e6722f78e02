import type { Clock, TimerHandle } from '../clock.js';

/**
 * The SDK's default clock. Unlike the daemon's systemClock its timers keep the process
 * alive, so a CLI waiting for a reconnect or a response does not exit early.
 */
export const refClock: Clock = Object.freeze({
  now: () => performance.now(),
  epochMs: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return { id: setTimeout(fn, ms) };
  },
  clearTimeout(h: TimerHandle | undefined): void {
    if (h) clearTimeout(h.id as NodeJS.Timeout);
  },
});
