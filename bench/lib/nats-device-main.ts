/**
 * Load child: devices of the NATS peer rounds, one connection each, subscribed to
 * devices.<i>.req and answering every request with its payload on its reply subject, a
 * read's answers in one write, as rr-object-main does. Stops on 'stop' or at `maxMs`.
 */
import type { Socket } from 'node:net';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { CRLF, NatsReader, openNats, PONG } from './nats-wire.js';
import type { DeviceArgs } from './peer-round.js';

const a = childPayload<DeviceArgs>();
const sockets: Socket[] = [];
const PUB = Buffer.from('PUB ', 'latin1');
/** ` <bytes>\r\n` by payload size: every request of a run has the same. */
const sizeTails = new Map<number, Buffer>();
const sizeTail = (n: number): Buffer => {
  let b = sizeTails.get(n);
  if (!b) sizeTails.set(n, (b = Buffer.from(` ${n}\r\n`, 'latin1')));
  return b;
};

function serve(socket: Socket): void {
  const reader = new NatsReader();
  let out: Buffer[] = [];
  const onMsg = (buf: Buffer, _ss: number, _se: number, replyStart: number, replyEnd: number, payloadStart: number, payloadEnd: number): void => {
    if (replyStart === replyEnd) return;
    // PUB <reply> <bytes>\r\n<payload>\r\n, the reply subject and payload as views of the read.
    out.push(PUB, buf.subarray(replyStart, replyEnd), sizeTail(payloadEnd - payloadStart), buf.subarray(payloadStart, payloadEnd), CRLF);
  };
  const onPing = () => void socket.write(PONG);
  socket.on('data', (chunk: Buffer) => {
    const err = reader.push(chunk, onMsg, onPing);
    if (err) return void socket.destroy(new Error(err));
    if (out.length === 0) return;
    socket.write(Buffer.concat(out));
    out = [];
  });
  socket.on('error', () => {});
  socket.resume();
}

async function finish(): Promise<void> {
  const closed = sockets.map((s) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r()))));
  for (const s of sockets) s.end();
  await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 3_000))]);
  toParent({ type: 'done' });
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
    const socket = await openNats({ host: a.host, port: a.port, name: `bench-device-${i}`, subject: `devices.${i}.req` });
    sockets.push(socket);
    serve(socket);
  }
  toParent({ type: 'ready', pid: process.pid });
}

main().catch(failChild);
