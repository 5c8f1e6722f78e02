import net from 'node:net';
import type { Duplex } from 'node:stream';
import { openSession } from '../../src/client/index.js';
import { encodeUid } from '../../src/protocol/index.js';

export type TargetMode = 'daemon' | 'relay';

export interface ConnectOptions {
  readonly mode: TargetMode;
  readonly host: string;
  readonly port: number;
  readonly uid: string;
  readonly key: Buffer;
  /** PEM of the CA to trust; asks for TLS (daemon mode only). */
  readonly ca?: string;
  readonly localAddress?: string;
}

/**
 * One load-side connection. Against the daemon: the SDK's openSession handshake (PROTOCOL §3).
 * Against the relay: a 16-byte hello with the UID, so the relay knows where to send records.
 * The returned socket is paused.
 */
export async function connectSession(o: ConnectOptions): Promise<{ socket: Duplex & { setNoDelay?: (b: boolean) => unknown }; rest: Buffer }> {
  if (o.mode === 'daemon') {
    const s = await openSession({
      host: o.host, port: o.port, uid: o.uid, key: o.key, tls: o.ca ? { ca: o.ca } : false,
      localAddress: o.localAddress, handshakeTimeoutMs: 30_000, followRedirect: false,
    });
    return { socket: s.socket, rest: s.rest };
  }
  const socket = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(encodeUid(o.uid));
  socket.pause();
  return { socket, rest: Buffer.alloc(0) };
}

/** Close 0x01 (maintenance): the session ends at once instead of being kept (PROTOCOL §6). */
export const CLOSE_MAINTENANCE = Buffer.from([0xf0, 0x01]);
