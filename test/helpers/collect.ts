import type { Transmission } from '../../src/protocol/index.js';

/** Pushes every transmission a raw client receives onto `into`, as they come, until its connection ends. */
export function collect(c: { next(ms?: number): Promise<Transmission> }, into: Transmission[]): void {
  void (async () => {
    for (;;) {
      try { into.push(await c.next(60_000)); } catch { return; }
    }
  })();
}
