/**
 * Load child for cluster-sessions: opens object sessions [from, to) on one node
 * (session-load.ts); on 'serve', the sampled objects among them echo every Request as a valid
 * Response (the central's sample); then, on command, every session is pinged and closed.
 */
import type { Duplex } from 'node:stream';
import { ResponseCode, ToT, TransmissionParser, encodeTransmissions, type Transmission } from '../../src/protocol/index.js';
import { childPayload, failChild, lifeline, toParent } from './child.js';
import { closeAll, command, openSessions, pingAll, reportAndExit, type OpenArgs } from './session-load.js';

interface LoadArgs extends OpenArgs {
  /** Hard lifetime of the process. */
  readonly maxMs: number;
}

const a = childPayload<LoadArgs>();
const sockets = new Map<number, Duplex>();

/** Echoes the socket's Requests until the returned function is called; counts the answers in `served`. */
function echoRequests(socket: Duplex, served: { n: number }): () => void {
  const parser = new TransmissionParser(1 << 20);
  let out: Transmission[] = [];
  const onT = (t: Transmission): void => {
    if (t.type === ToT.REQUEST) out.push({ type: ToT.RESPONSE, tracking: t.tracking, code: ResponseCode.VALID, payload: t.payload });
  };
  const onData = (chunk: Buffer): void => {
    if (parser.push(chunk, onT)) return void socket.destroy();
    if (out.length === 0) return;
    served.n += out.length;
    socket.write(encodeTransmissions(out));
    out = [];
  };
  socket.on('data', onData);
  socket.resume();
  return () => {
    socket.off('data', onData);
    socket.pause();
  };
}

async function main(): Promise<void> {
  lifeline(a.maxMs);
  toParent({ type: 'ready', pid: process.pid });
  await command('go');
  toParent({ type: 'opened', ...(await openSessions(a, sockets)) });
  const { indices } = (await command('serve')) as unknown as { indices: number[] };
  const served = { n: 0 };
  const stops = indices.flatMap((i) => { const s = sockets.get(i); return s ? [echoRequests(s, served)] : []; });
  toParent({ type: 'serving', objects: stops.length });
  await command('ping');
  for (const stop of stops) stop();
  toParent({ type: 'pinged', answered: await pingAll(sockets.values(), 30_000), served: served.n });
  await command('close');
  reportAndExit({ type: 'closed', closed: await closeAll(sockets.values(), 30_000) });
}

main().catch(failChild);
