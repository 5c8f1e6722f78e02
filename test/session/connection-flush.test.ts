import t from 'tap';
import type { Socket } from 'node:net';
import { ManualClock } from '../../src/clock.js';
import { Connection } from '../../src/session/connection.js';
import { Format, ToT, TransmissionParser, type Transmission } from '../../src/protocol/index.js';

/** The socket surface Connection writes to; records every write. */
function fakeSocket() {
  const writes: Buffer[] = [];
  const socket = {
    writes, destroyed: false, writableLength: 0,
    write(b: Buffer) { writes.push(b); return true; },
    on() { return socket; }, resume() {}, end() {}, destroy() { socket.destroyed = true; },
  };
  return socket;
}

function connection(socket: ReturnType<typeof fakeSocket>): Connection {
  return new Connection(socket as unknown as Socket, {
    maxTransmissionBytes: 1 << 20, clock: new ManualClock(),
    closeGraceMs: 1_000, writeBufferBytes: 1 << 20, drainTimeoutMs: 1_000, transmissionTimeoutMs: 1_000,
  }, { peer: '127.0.0.1:1', tls: false, maxTransmissionLength: 0 });
}

const telemetry = (uid: string): Transmission => ({ type: ToT.TELEMETRY, uid, payload: { format: Format.BINARY, options: 0, data: Buffer.from(uid) } });

t.test('what separate callbacks of one loop turn send goes out in one write (a burst of UDP datagrams)', async (t) => {
  const socket = fakeSocket();
  const conn = connection(socket);
  // Each datagram is its own 'message' callback; Node drains the nextTick queue after each one.
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 5; i++) setImmediate(() => conn.send(telemetry(`o${i}`)));
    setImmediate(() => setImmediate(resolve));
  });
  t.equal(socket.writes.length, 1, 'one write for the five transmissions');
  const got: string[] = [];
  t.equal(new TransmissionParser(1 << 20).push(Buffer.concat(socket.writes), (x) => got.push(x.uid ?? '')), undefined);
  t.same(got, ['o0', 'o1', 'o2', 'o3', 'o4'], 'in order');
});
