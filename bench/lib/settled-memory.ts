import { getHeapSpaceStatistics } from 'node:v8';

/**
 * How long a memory read waits after its forced GCs: V8's background unmapper gives back the
 * pages they freed meanwhile (read at once, a daemon holding 5 000 sessions read ~6 MiB, 1.2 KiB
 * a session, higher: bench/README.md, "RSS per session").
 */
export const MEM_SETTLE_MS = 500;

/** Two forced GCs (the first frees, the second lets finalisers' memory go too); false without --expose-gc. */
export function forceGcs(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  gc();
  return true;
}

/** Bytes V8 has committed to its young generation (new space and its large objects). */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics()
    .filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space')
    .reduce((sum, s) => sum + s.space_size, 0);
}
