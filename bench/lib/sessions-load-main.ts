/**
 * Load child for the sessions scenario: opens object sessions [from, to) (session-load.ts),
 * then on command pings every one and closes them all with Close 0x01.
 */
import type { Duplex } from 'node:stream';
import { childPayload, failChild, lifeline, toParent } from './child.js';
import { closeAll, command, openSessions, pingAll, reportAndExit, type OpenArgs } from './session-load.js';

interface LoadArgs extends OpenArgs {
  /** Hard lifetime of the process. */
  readonly maxMs: number;
}

const a = childPayload<LoadArgs>();
const sockets = new Map<number, Duplex>();

async function main(): Promise<void> {
  lifeline(a.maxMs);
  toParent({ type: 'ready', pid: process.pid });
  await command('go');
  toParent({ type: 'opened', ...(await openSessions(a, sockets)) });
  await command('ping');
  toParent({ type: 'pinged', answered: await pingAll(sockets.values(), 20_000) });
  await command('close');
  reportAndExit({ type: 'closed', closed: await closeAll(sockets.values(), 20_000) });
}

main().catch(failChild);
