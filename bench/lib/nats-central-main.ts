/**
 * Load child: the central of the NATS peer rounds, rr-central-main's loop over NATS core
 * request/reply: each request is published to devices.<i>.req with the reply subject
 * _INBOX.bench.<k> (k = device × inFlight + slot, as the `nats` client's request mux does
 * with its tokens); answers arrive on one wildcard subscription. One socket, nats-wire's
 * reader, one write per read.
 */
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { CRLF, NatsReader, openNats, PONG, pubHead } from './nats-wire.js';
import type { CentralArgs } from './rr-central-main.js';
import { DRAIN_MS, RrLoop } from './rr-loop.js';

const a = childPayload<CentralArgs>();
const data = Buffer.alloc(a.payloadBytes, 0x5a);
const INBOX = '_INBOX.bench.';
const heads = Array.from({ length: a.objects * a.inFlight }, (_, k) => pubHead(`devices.${Math.floor(k / a.inFlight)}.req`, `${INBOX}${k}`, a.payloadBytes));

async function main(): Promise<void> {
  lifeline(a.warmupMs + a.measureMs + DRAIN_MS + 60_000);
  const socket = await openNats({ host: a.host, port: a.port, name: 'bench-central', subject: `${INBOX}*` });
  toParent({ type: 'ready', pid: process.pid });
  await new Promise<void>((resolve) => process.on('message', (m: Msg) => m.type === 'go' && resolve()));
  let out: Buffer[] = [];
  const loop = new RrLoop(a, (obj, slot) => {
    out.push(heads[obj * a.inFlight + slot]!, data, CRLF);
  }, () => {
    if (out.length === 0) return;
    socket.write(Buffer.concat(out));
    out = [];
  });
  const reader = new NatsReader();
  const onMsg = (buf: Buffer, subjectStart: number, subjectEnd: number, _rs: number, _re: number, payloadStart: number, payloadEnd: number): void => {
    // k is the subject's digits after _INBOX.bench.
    let k = 0;
    for (let j = subjectStart + INBOX.length; j < subjectEnd; j++) k = k * 10 + buf[j]! - 0x30;
    const obj = Math.floor(k / a.inFlight);
    loop.answered(obj, k - obj * a.inFlight, payloadEnd - payloadStart === a.payloadBytes);
  };
  const onPing = () => void socket.write(PONG);
  socket.on('data', (chunk: Buffer) => {
    loop.now = performance.now();
    const err = reader.push(chunk, onMsg, onPing);
    if (err) failChild(new Error(err));
    loop.endOfRead();
  });
  socket.on('error', failChild);
  socket.resume();
  const result = await loop.run();
  socket.end();
  toParent(result as unknown as Msg);
  setTimeout(() => {
    process.disconnect?.();
    process.exit(0);
  }, 200);
}

main().catch(failChild);
