import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls, { type SecureContext } from 'node:tls';
import {
  AUTH_ACCEPTED, CHALLENGE_LENGTH, PROTOCOL_VERSION, computeMac, encodeAuthAnswer, encodeInitiation,
} from '../../src/protocol/index.js';

export interface LeanHandshakeOptions {
  readonly port: number;
  readonly uid: string;
  readonly key: Buffer;
  readonly localAddress: string;
  /** Asks for TLS with this context. */
  readonly secureContext?: SecureContext;
  /**
   * false (with a context that trusts no CA): the certificate is not checked
   * (rejectUnauthorized: false). The daemon's work is the same (it signs the handshake either
   * way) and OpenSSL still checks that signature; what the load side saves is Node's
   * getPeerCertificate(true) on every verified connection, about 30% of its CPU.
   */
  readonly verify?: boolean;
}

const INIT_PLAIN = encodeInitiation({ tls: false, version: PROTOCOL_VERSION, options: 0, maxTransmissionLength: 0 });
const INIT_TLS = encodeInitiation({ tls: true, version: PROTOCOL_VERSION, options: 0, maxTransmissionLength: 0 });
/** OK=1, no rule (PROTOCOL §3 step 2): the only answer the bench expects. */
const ANSWER_OK = [0x80, 0x00] as const;

/**
 * An object's handshake (PROTOCOL §3) with what a load generator needs and no more: one
 * promise and one data listener per attempt, no timer (the daemon's handshake timeout and
 * the load child's lifeline bound it), no redirects. The SDK's openSession adds a timer, an
 * AbortSignal listener and a promise per read, which are load-side CPU, not the daemon's.
 * Resolves with the paused socket (TLS socket for TLS) once the accept byte is in.
 */
export function leanHandshake(o: LeanHandshakeOptions): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: '127.0.0.1', port: o.port, localAddress: o.localAddress });
    raw.setNoDelay(true);
    let sock: Duplex = raw;
    let stage: 'answer' | 'challenge' | 'accept' = 'answer';
    let buf: Buffer = Buffer.alloc(0);
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      sock.destroy();
      raw.destroy();
      reject(new Error(why));
    };
    const onClose = (): void => fail(`closed during the handshake (${stage})`);
    const onError = (err: Error): void => fail(`${(err as { code?: string }).code ?? ''} ${err.message}`);
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (stage === 'answer') {
        if (buf.length < 2) return;
        if (buf[0] !== ANSWER_OK[0] || buf[1] !== ANSWER_OK[1]) return fail(`refused or redirected (0x${buf[0]!.toString(16)})`);
        buf = buf.subarray(2);
        stage = 'challenge';
        if (o.secureContext) {
          if (buf.length > 0) return fail('bytes in clear after the initiation answer');
          raw.off('data', onData);
          sock = tls.connect({ socket: raw, secureContext: o.secureContext, servername: 'localhost', rejectUnauthorized: o.verify !== false });
          sock.on('data', onData);
          sock.once('error', onError);
          sock.once('close', onClose);
          return;
        }
      }
      if (stage === 'challenge') {
        if (buf.length < CHALLENGE_LENGTH) return;
        sock.write(encodeAuthAnswer(o.uid, computeMac(o.key, buf.subarray(0, CHALLENGE_LENGTH))));
        buf = buf.subarray(CHALLENGE_LENGTH);
        stage = 'accept';
      }
      if (buf.length < 1) return;
      if (buf[0] !== AUTH_ACCEPTED) return fail('authentication refused');
      settled = true;
      sock.off('data', onData);
      sock.off('close', onClose);
      sock.pause();
      resolve(sock);
    };
    raw.once('connect', () => raw.write(o.secureContext ? INIT_TLS : INIT_PLAIN));
    raw.on('data', onData);
    raw.once('error', onError);
    raw.once('close', onClose);
  });
}
