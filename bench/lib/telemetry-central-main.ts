/**
 * Load child for udp: the central's TCP session. Parses its stream with the codec and counts
 * Identified telemetry (ToT 6 with a UID and the bench payload length); answers 'count'.
 */
import { ToT, TransmissionParser, type Transmission } from '../../src/protocol/index.js';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { BENCH_CENTRAL_KEY } from './config.js';
import { CLOSE_MAINTENANCE, connectSession } from './connect.js';

export interface TelemetryCentralArgs {
  readonly port: number;
  readonly payloadBytes: number;
  readonly maxMs: number;
}

const a = childPayload<TelemetryCentralArgs>();
let telemetry = 0;
let other = 0;

async function main(): Promise<void> {
  lifeline(a.maxMs);
  const { socket, rest } = await connectSession({ mode: 'daemon', host: '127.0.0.1', port: a.port, uid: '', key: BENCH_CENTRAL_KEY });
  const parser = new TransmissionParser(1 << 20);
  const onT = (t: Transmission): void => {
    if (t.type === ToT.TELEMETRY && t.uid && t.payload.data.length === a.payloadBytes) telemetry++;
    else other++;
  };
  const onData = (chunk: Buffer): void => {
    const err = parser.push(chunk, onT);
    if (err) failChild(err);
  };
  socket.on('data', onData);
  socket.on('error', (err) => failChild(err));
  if (rest.length > 0) onData(rest);
  socket.resume();
  process.on('message', (m: Msg) => {
    if (m.type === 'count') toParent({ type: 'count', telemetry, other });
    else if (m.type === 'stop') {
      socket.end(CLOSE_MAINTENANCE);
      setTimeout(() => {
        process.disconnect?.();
        process.exit(0);
      }, 200);
    }
  });
  toParent({ type: 'ready', pid: process.pid });
}

main().catch(failChild);
