/**
 * Load child for udp and udp-webhook: some of the bench objects. Each opens its TCP session
 * (SDK openSession), waits for its telemetry token (ToT 5), then on 'go' sends telemetry
 * datagrams (token + payload block, codec's encodeDatagram layout) from its own 127.0.0.x
 * address, paced on a 1 ms timer to `ratePerSec` for the process in total, exactly
 * `ratePerSec × durationMs` of them. Stops on 'stop' or at `maxMs`.
 */
import dgram from 'node:dgram';
import type { Duplex } from 'node:stream';
import { Format, ToT, TransmissionParser, encodeDatagram, type Transmission } from '../../src/protocol/index.js';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { objectKey, objectUid } from './config.js';
import { CLOSE_MAINTENANCE, connectSession } from './connect.js';

export interface UdpSenderArgs {
  readonly port: number;
  readonly udpPort: number;
  readonly indices: readonly number[];
  readonly ratePerSec: number;
  readonly durationMs: number;
  readonly payloadBytes: number;
  readonly maxMs: number;
}

export interface UdpSenderResult {
  readonly type: 'sent';
  readonly sent: number;
  readonly ms: number;
  readonly sendErrors: number;
}

const a = childPayload<UdpSenderArgs>();
const sessions: Duplex[] = [];
const sockets: dgram.Socket[] = [];
let sendErrors = 0;

/** Opens object `i`'s session and resolves with the first telemetry token it is given. */
async function tokenOf(i: number): Promise<Buffer> {
  const { socket, rest } = await connectSession({ mode: 'daemon', host: '127.0.0.1', port: a.port, uid: objectUid(i), key: objectKey(i) });
  sessions.push(socket);
  socket.on('error', () => {});
  const parser = new TransmissionParser(1 << 20);
  return new Promise<Buffer>((resolve, reject) => {
    let token: Buffer | undefined;
    const onT = (t: Transmission): void => {
      if (t.type === ToT.TOKEN && !token) resolve((token = Buffer.from(t.token)));
    };
    const timer = setTimeout(() => reject(new Error(`${objectUid(i)}: no telemetry token within 10 s`)), 10_000);
    const onData = (chunk: Buffer): void => {
      const err = parser.push(chunk, onT);
      if (err) reject(err);
      if (token) clearTimeout(timer);
    };
    socket.on('data', onData);
    if (rest.length > 0) onData(rest);
    socket.resume();
  });
}

async function udpSocket(i: number): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
  s.on('error', () => { sendErrors++; });
  await new Promise<void>((r) => s.bind({ address: `127.0.0.${2 + (i % 250)}`, port: 0 }, r));
  await new Promise<void>((r) => s.connect(a.udpPort, '127.0.0.1', r));
  sockets.push(s);
  return s;
}

function send(templates: readonly Buffer[]): Promise<UdpSenderResult> {
  const total = Math.round((a.ratePerSec * a.durationMs) / 1000);
  let sent = 0;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - t0;
      const due = Math.min(total, Math.floor((a.ratePerSec * elapsed) / 1000));
      for (; sent < due; sent++) {
        const k = sent % templates.length;
        const dg = Buffer.allocUnsafe(templates[k]!.length);
        templates[k]!.copy(dg);
        dg.writeUInt32BE(sent >>> 0, dg.length - 4); // a sequence number in the payload's last bytes
        sockets[k]!.send(dg);
      }
      if (sent >= total || elapsed > a.durationMs * 3) return resolve({ type: 'sent', sent, ms: performance.now() - t0, sendErrors });
      setTimeout(tick, 1);
    };
    tick();
  });
}

async function finish(): Promise<void> {
  for (const s of sockets) s.close();
  for (const s of sessions) s.end(CLOSE_MAINTENANCE);
  await new Promise((r) => setTimeout(r, 200));
  process.disconnect?.();
  process.exit(0);
}

async function main(): Promise<void> {
  lifeline(a.maxMs);
  process.on('message', (m: Msg) => {
    if (m.type === 'stop') void finish();
  });
  const templates: Buffer[] = [];
  for (const i of a.indices) {
    const token = await tokenOf(i);
    await udpSocket(i);
    templates.push(encodeDatagram(token, { format: Format.BINARY, options: 0, data: Buffer.alloc(Math.max(4, a.payloadBytes), 0x5a) }));
  }
  toParent({ type: 'ready', pid: process.pid });
  await new Promise<void>((resolve) => process.on('message', (m: Msg) => m.type === 'go' && resolve()));
  toParent((await send(templates)) as unknown as Msg);
}

main().catch(failChild);
