/**
 * Load child: some of the tcp-rr objects. Each echoes every Request's payload back as a
 * valid Response, batching a read's answers into one write. Stops on 'stop' or at `maxMs`.
 */
import type { Duplex } from 'node:stream';
import { ResponseCode, ToT, TransmissionParser, encodeTransmissions, type Transmission } from '../../src/protocol/index.js';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { objectKey, objectUid } from './config.js';
import { CLOSE_MAINTENANCE, connectSession, type TargetMode } from './connect.js';

interface ObjectArgs {
  readonly mode: TargetMode;
  readonly host: string;
  readonly port: number;
  readonly ca?: string;
  readonly indices: readonly number[];
  /** Hard bound on this process's life. */
  readonly maxMs: number;
}

const a = childPayload<ObjectArgs>();
let served = 0;
const sockets: Duplex[] = [];

function serve(socket: Duplex, rest: Buffer): void {
  const parser = new TransmissionParser(1 << 20);
  let out: Transmission[] = [];
  const onT = (t: Transmission): void => {
    if (t.type === ToT.REQUEST) out.push({ type: ToT.RESPONSE, tracking: t.tracking, code: ResponseCode.VALID, payload: t.payload });
    else if (t.type === ToT.PING) out.push({ type: ToT.PONG });
  };
  const onData = (chunk: Buffer): void => {
    const err = parser.push(chunk, onT);
    if (err) return void socket.destroy(err);
    if (out.length === 0) return;
    served += out.length;
    socket.write(encodeTransmissions(out));
    out = [];
  };
  socket.on('data', onData);
  socket.on('error', () => {});
  if (rest.length > 0) onData(rest);
  socket.resume();
}

async function finish(): Promise<void> {
  const closed = sockets.map((s) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r()))));
  for (const s of sockets) {
    if (a.mode === 'daemon') s.end(CLOSE_MAINTENANCE);
    else s.end();
  }
  await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 3_000))]);
  toParent({ type: 'done', served });
  process.disconnect?.();
  process.exit(0);
}

async function main(): Promise<void> {
  lifeline(a.maxMs + 10_000);
  const deadline = setTimeout(() => void finish(), a.maxMs);
  process.on('message', (m: Msg) => {
    if (m.type === 'stop') {
      clearTimeout(deadline);
      void finish();
    }
  });
  for (const i of a.indices) {
    const { socket, rest } = await connectSession({ mode: a.mode, host: a.host, port: a.port, uid: objectUid(i), key: objectKey(i), ca: a.ca });
    sockets.push(socket);
    serve(socket, rest);
  }
  toParent({ type: 'ready', pid: process.pid });
}

main().catch(failChild);
