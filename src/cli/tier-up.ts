import { setFlagsFromString } from 'node:v8';

/**
 * While the program loads and starts, module resolution, the config validator's code generation
 * and the ACL's parse run hot enough for V8 to optimize some 40 functions with TurboFan, which
 * pages in the optimizing compiler's code (3.5 MiB of the node binary's text) and its zones for a
 * start that never runs those functions again: about 6 MiB of RSS 2 s after "listening". So V8's
 * interrupt budget (the bytecode a function runs between tier-up checks) is raised while
 * starting and restored once the daemon listens. A function that ran during the start keeps the
 * raised budget only until its next check (10 MB of its own bytecode), then tiers up as before;
 * one first called later never sees it. Left alone when the operator set either flag.
 */
/** V8 11.3's defaults (Node 20, `node --v8-options`), restored on release. */
const V8_DEFAULTS = '--interrupt-budget=67584 --max-bytecode-size-for-early-opt=81';
/**
 * While held: a far larger budget, and no optimization at a function's first check (V8 does
 * that for small ones), which the functions that ran before the hold (the launcher's own
 * imports) would otherwise reach with the budget they already had.
 */
const STARTING = '--interrupt-budget=10000000 --max-bytecode-size-for-early-opt=0';
let held = false;

export function holdTierUp(): void {
  if (held || /interrupt-budget|early-opt/.test(process.execArgv.join(' '))) return; // (NODE_OPTIONS cannot carry them)
  for (const flag of STARTING.split(' ')) setFlagsFromString(flag);
  held = true;
}

export function releaseTierUp(): void {
  if (!held) return;
  held = false;
  for (const flag of V8_DEFAULTS.split(' ')) setFlagsFromString(flag);
}

/** Whether the tier-up is held now (for tests). */
export function tierUpHeld(): boolean {
  return held;
}
