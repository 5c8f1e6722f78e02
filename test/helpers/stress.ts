import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** `IOTS_STRESS=1` (npm run test:stress) runs the hardening tests at full size; `npm test` runs them reduced. */
export const STRESS = process.env.IOTS_STRESS === '1';

/** The reduced figure under `npm test`, the full one under `npm run test:stress`. */
export function size(reduced: number, full: number): number {
  return STRESS ? full : reduced;
}

/** Open descriptors of this process (Linux). */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` (bounded by real time) and returns whether it became true. */
export async function until(cond: () => boolean, maxMs = 5000): Promise<boolean> {
  const end = Date.now() + maxMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(2);
  }
  return true;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Counts uncaught exceptions and unhandled rejections while a test runs. */
export function watchCrashes(t: { teardown(fn: () => void): void }): { readonly count: number; readonly errors: unknown[] } {
  const errors: unknown[] = [];
  const onErr = (e: unknown) => errors.push(e);
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onErr);
  t.teardown(() => {
    process.off('uncaughtException', onErr);
    process.off('unhandledRejection', onErr);
  });
  return { get count() { return errors.length; }, errors };
}

let gcFn: (() => void) | undefined;
/** A full GC before a memory reading (V8's gc exposed at run time, so no node flag is needed). */
export function forceGc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** Heap and RSS in bytes after a forced GC. */
export function memory(): { heap: number; rss: number } {
  forceGc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}
