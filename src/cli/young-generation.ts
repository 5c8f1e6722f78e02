import { setFlagsFromString } from 'node:v8';

/**
 * V8 doubles its young generation whenever a scavenge finds much of it alive, as the loading of
 * the program does: an idle daemon then holds 16 MiB of semi-spaces, given back only 8–16 s
 * later by V8's memory reducer (about 9 MiB of RSS at start). So the growth is held while the
 * program loads and starts, and V8's default growth restored once it listens: a loaded daemon
 * sizes its young generation as before (a capped one costs scavenges under load). Left alone
 * when the operator set a semi-space flag.
 */
const V8_DEFAULT_GROWTH_FACTOR = 2;
let held = false;

export function holdYoungGeneration(): void {
  if (held || /semi-space/.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`)) return;
  setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}

export function releaseYoungGeneration(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
}

/** Whether the growth is held now (for tests). */
export function youngGenerationHeld(): boolean {
  return held;
}
