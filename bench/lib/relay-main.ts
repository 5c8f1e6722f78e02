/**
 * Child process: the baseline for tcp-rr. A byte relay that knows only the fixed record sizes
 * of the run (argv), never parses a transmission: it slices the central's stream into records,
 * takes the destination from the fixed UID bytes, and copies the bytes through. To carry
 * the same byte counts as the daemon it drops the 16 UID bytes going down and inserts them
 * going up (and flips the RTE bit), with one write per destination per read, like the daemon.
 */
import net from 'node:net';
import { UID_LENGTH } from '../../src/protocol/index.js';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { startGcProfile, stopGcProfile } from './gc-profile.js';

lifeline(2 * 60 * 60_000);

interface RelayArgs {
  readonly payloadBytes: number;
}

const { payloadBytes } = childPayload<RelayArgs>();
/** Central → relay: header, UID, tracking, payload block. Relay → object: the same without the UID. */
const DOWN_IN = 1 + UID_LENGTH + 2 + 3 + payloadBytes;
const DOWN_OUT = DOWN_IN - UID_LENGTH;
/** Object → relay: header, tracking, code, payload block. Relay → central: the same with the UID. */
const UP_IN = 1 + 2 + 1 + 3 + payloadBytes;
const UP_OUT = UP_IN + UID_LENGTH;
const CENTRAL_KEY = '\0'.repeat(UID_LENGTH);

const objects = new Map<string, net.Socket>();
let central: net.Socket | undefined;

/** Cuts a stream into fixed-size records, keeping a partial one for the next read. */
function recordCutter(size: number, onRecords: (buf: Buffer, count: number) => void): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const data = rest ? Buffer.concat([rest, chunk]) : chunk;
    const n = Math.floor(data.length / size);
    rest = data.length > n * size ? Buffer.from(data.subarray(n * size)) : undefined;
    if (n > 0) onRecords(data, n);
  };
}

function fromCentral(data: Buffer, n: number): void {
  const out = new Map<net.Socket, { buf: Buffer; o: number }>();
  for (let i = 0; i < n; i++) {
    const r = i * DOWN_IN;
    const dest = objects.get(data.toString('latin1', r + 1, r + 1 + UID_LENGTH));
    if (!dest) continue;
    let w = out.get(dest);
    if (!w) out.set(dest, (w = { buf: Buffer.allocUnsafe(n * DOWN_OUT), o: 0 }));
    w.buf[w.o] = data[r]! & ~0x08;
    data.copy(w.buf, w.o + 1, r + 1 + UID_LENGTH, r + DOWN_IN);
    w.o += DOWN_OUT;
  }
  for (const [s, w] of out) s.write(w.buf.subarray(0, w.o));
}

function fromObject(uid: Buffer): (data: Buffer, n: number) => void {
  return (data, n) => {
    const buf = Buffer.allocUnsafe(n * UP_OUT);
    for (let i = 0; i < n; i++) {
      const r = i * UP_IN;
      const o = i * UP_OUT;
      buf[o] = data[r]! | 0x08;
      uid.copy(buf, o + 1);
      data.copy(buf, o + 1 + UID_LENGTH, r + 1, r + UP_IN);
    }
    central?.write(buf);
  };
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let hello: Buffer | undefined = Buffer.alloc(0);
  let onData: ((chunk: Buffer) => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    if (onData) return onData(chunk);
    hello = Buffer.concat([hello!, chunk]);
    if (hello.length < UID_LENGTH) return;
    const uid = hello.subarray(0, UID_LENGTH);
    const key = uid.toString('latin1');
    const isCentral = key === CENTRAL_KEY;
    if (isCentral) central = socket;
    else objects.set(key, socket);
    socket.once('close', () => (isCentral ? central === socket && (central = undefined) : objects.delete(key)));
    onData = recordCutter(isCentral ? DOWN_IN : UP_IN, isCentral ? fromCentral : fromObject(Buffer.from(uid)));
    const extra = hello.subarray(UID_LENGTH);
    hello = undefined;
    if (extra.length > 0) onData(extra);
  });
});

server.listen(0, '127.0.0.1', () => {
  const addr = server.address() as net.AddressInfo;
  toParent({ type: 'ready', port: addr.port, pid: process.pid });
});
server.on('error', failChild);
process.on('message', (m: Msg) => {
  if (m.type === 'gc-start') return startGcProfile();
  if (m.type === 'gc-stop') return toParent({ type: 'gc', summary: stopGcProfile() });
  if (m.type !== 'stop') return;
  server.close();
  for (const s of objects.values()) s.destroy();
  central?.destroy();
  process.disconnect?.();
  process.exit(0);
});
