/** Public API. Importing this module starts nothing. */
export { createConcentrator, type Concentrator, type ConcentratorDeps, type BoundAddresses } from './daemon.js';
export type { Config } from './config/types.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export * as protocol from './protocol/index.js';
