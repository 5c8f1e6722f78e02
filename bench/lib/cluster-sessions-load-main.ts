/**
 * Load child for cluster-sessions: opens object sessions [from, to) on one node
 * (session-load.ts). Each session behaves as a device that stays connected: it answers the
 * node's idle Pings (after tcp.pingIdleSec of silence the node pings, and drops a peer that has
 * not answered within as long again: over a ramp of minutes, paused sockets were dropped) and
 * echoes every Request as a valid Response. On command: a sample of its sessions for the
 * central, then every session pinged, then all closed.
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
const counts = { served: 0, pongsSent: 0 };

/** Answers the node's Pings and echoes its Requests, for as long as the socket is read. */
function actAsDevice(socket: Duplex): void {
  const parser = new TransmissionParser(1 << 20);
  let out: Transmission[] = [];
  const onT = (t: Transmission): void => {
    if (t.type === ToT.REQUEST) {
      out.push({ type: ToT.RESPONSE, tracking: t.tracking, code: ResponseCode.VALID, payload: t.payload });
      counts.served++;
    } else if (t.type === ToT.PING) {
      out.push({ type: ToT.PONG });
      counts.pongsSent++;
    }
  };
  socket.on('data', (chunk: Buffer) => {
    if (parser.push(chunk, onT)) return void socket.destroy();
    if (out.length === 0) return;
    socket.write(encodeTransmissions(out));
    out = [];
  });
  socket.resume();
}

async function main(): Promise<void> {
  lifeline(a.maxMs);
  toParent({ type: 'ready', pid: process.pid });
  await command('go');
  toParent({ type: 'opened', ...(await openSessions(a, sockets, (_, s) => actAsDevice(s))) });
  // The central's sample: `n` of the sessions held here, spread evenly over them.
  const { n } = (await command('sample')) as unknown as { n: number };
  const held = [...sockets.keys()].sort((x, y) => x - y);
  toParent({ type: 'sample', indices: Array.from({ length: Math.min(n, held.length) }, (_, k) => held[Math.floor((k * held.length) / n)]!) });
  await command('ping');
  toParent({ type: 'pinged', answered: await pingAll(sockets.values(), 30_000), ...counts });
  await command('close');
  reportAndExit({ type: 'closed', closed: await closeAll(sockets.values(), 30_000) });
}

main().catch(failChild);
