import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import type { Clock } from '../clock.js';
import {
  AUTH_ACCEPTED, AUTH_KEY_LENGTH, CHALLENGE_LENGTH, PROTOCOL_VERSION, RuleType, computeMac,
  decodeInitiationAnswer, encodeAuthAnswer, encodeInitiation, isValidUid, type InitiationAnswer,
} from '../protocol/index.js';
import { ByteReader, exactly, type Decoder } from './byte-reader.js';
import { ClientError, ClientErrorCode, toClientError } from './errors.js';
import { refClock } from './ref-clock.js';

/** Options of {@link openSession}. */
export interface OpenSessionOptions {
  readonly host: string;
  readonly port: number;
  /** The object's UID, or '' for the central. */
  readonly uid: string;
  /** The 16-byte auth key, as bytes or 32 hex digits. */
  readonly key: Buffer | string;
  /** Ask for TLS; an object is passed to `tls.connect` (e.g. `{ ca }`). */
  readonly tls?: boolean | tls.ConnectionOptions;
  /** Largest transmission this client accepts; 0 (default) states no limit. */
  readonly maxTransmissionLength?: number;
  /** Deadline for each connection attempt, from connect to the accept byte. Default 10 000. */
  readonly handshakeTimeoutMs?: number;
  readonly localAddress?: string;
  /**
   * Follow a redirect rule (PROTOCOL §3 step 2; OK=1, or OK=0 from a draining or loaded cluster
   * node) once. A second redirect is a loop: TOO_MANY_REDIRECTS. Default true.
   */
  readonly followRedirect?: boolean;
  /** Timer source for the handshake deadline. Default: the system timers. */
  readonly clock?: Clock;
  /** Aborting drops the connection in progress and rejects with ERR_IOTS_CLIENT_CLOSED. */
  readonly signal?: AbortSignal;
}

/** An authenticated connection, ready for transmissions. */
export interface OpenedSession {
  /** The plain socket, or the TLS socket wrapping it. Paused: attach a reader, then resume(). */
  readonly socket: net.Socket | tls.TLSSocket;
  readonly answer: InitiationAnswer;
  /** Bytes received after the accept byte (e.g. a telemetry token). */
  readonly rest: Buffer;
  /** Where the session was opened, after any redirect. */
  readonly host: string;
  readonly port: number;
}

/** A cluster sends a client to a node that takes it: a node that redirects again means a loop (or views out of step). */
const MAX_REDIRECTS = 1;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Validates and converts an auth key; throws ERR_IOTS_CLIENT_INVALID_ARG. */
export function normalizeKey(key: Buffer | string): Buffer {
  const buf = typeof key === 'string' && /^[0-9a-fA-F]*$/.test(key) ? Buffer.from(key, 'hex') : key;
  if (!Buffer.isBuffer(buf) || buf.length !== AUTH_KEY_LENGTH) {
    throw new ClientError(ClientErrorCode.INVALID_ARG, 'auth key must be 16 bytes or 32 hex digits');
  }
  return buf;
}

/**
 * Opens and authenticates one TCP session (PROTOCOL §3): initiation, answer (following
 * redirects), optional TLS upgrade of the same socket, challenge and MAC, accept byte.
 * Rejects with a ClientError: REFUSED, REDIRECTED, TOO_MANY_REDIRECTS, AUTH_REFUSED,
 * HANDSHAKE_TIMEOUT, CONNECT, TLS, CLOSED, PROTOCOL or INVALID_ARG.
 */
export async function openSession(opts: OpenSessionOptions): Promise<OpenedSession> {
  const key = normalizeKey(opts.key);
  if (!isValidUid(opts.uid)) throw new ClientError(ClientErrorCode.INVALID_ARG, 'UID must be at most 16 bytes of UTF-8');
  let target = { host: opts.host, port: opts.port };
  for (let hop = 0; ; hop++) {
    const r = await attempt(opts, target.host, target.port, key);
    if (!('redirect' in r)) return r;
    const to = `${r.redirect.host}:${r.redirect.port}`;
    if (opts.followRedirect === false) throw new ClientError(ClientErrorCode.REDIRECTED, `redirected to ${to}`, r);
    if (hop >= MAX_REDIRECTS) {
      throw new ClientError(ClientErrorCode.TOO_MANY_REDIRECTS, `redirected again by ${target.host}:${target.port} to ${to} after a redirect from ${opts.host}:${opts.port}: a redirect is followed once (a loop?)`, r);
    }
    target = r.redirect;
  }
}

type Redirect = { redirect: { host: string; port: number } };

async function attempt(opts: OpenSessionOptions, host: string, port: number, key: Buffer): Promise<OpenedSession | Redirect> {
  const clock = opts.clock ?? refClock;
  const socket = net.connect({ host, port, localAddress: opts.localAddress });
  socket.setNoDelay(true);
  let current: net.Socket | tls.TLSSocket = socket;
  const ms = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const timer = clock.setTimeout(() => {
    current.destroy(new ClientError(ClientErrorCode.HANDSHAKE_TIMEOUT, `handshake not finished within ${ms} ms`));
  }, ms);
  const onAbort = (): void => void current.destroy(new ClientError(ClientErrorCode.CLOSED, 'handshake aborted'));
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    await once(socket, 'connect').catch((err: unknown) => {
      throw toClientError(err, ClientErrorCode.CONNECT, `cannot connect to ${host}:${port}`);
    });
    const wantTls = opts.tls !== undefined && opts.tls !== false;
    socket.write(encodeInitiation({
      tls: wantTls, version: PROTOCOL_VERSION, options: 0, maxTransmissionLength: opts.maxTransmissionLength ?? 0,
    }));
    let reader = new ByteReader(socket);
    const answer = await reader.read(answerDecoder);
    const rule = answer.rule;
    // "The client disconnects and opens a session there instead", whether OK is 1 or 0 (a refusal that names another node).
    if (rule.type === RuleType.REDIRECT) {
      socket.destroy();
      return { redirect: { host: rule.host, port: rule.port } };
    }
    if (!answer.ok) throw new ClientError(ClientErrorCode.REFUSED, 'the concentrator refused the session');
    if (wantTls) {
      if (reader.detach().length > 0) throw protocolError('bytes in clear after the initiation answer');
      current = await upgrade(socket, host, opts.tls === true ? {} : (opts.tls as tls.ConnectionOptions));
      reader = new ByteReader(current);
    }
    const challenge = await reader.read(exactly(CHALLENGE_LENGTH));
    current.write(encodeAuthAnswer(opts.uid, computeMac(key, challenge)));
    const accepted = await reader.read(exactly(1));
    if (accepted[0] !== AUTH_ACCEPTED) {
      throw new ClientError(ClientErrorCode.AUTH_REFUSED, `authentication refused for UID '${opts.uid}'`);
    }
    return { socket: current, answer, rest: reader.detach(), host, port };
  } catch (err) {
    current.destroy();
    socket.destroy();
    throw toClientError(err, ClientErrorCode.CLOSED, 'handshake failed');
  } finally {
    clock.clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

const answerDecoder: Decoder<InitiationAnswer> = (buf) => {
  const r = decodeInitiationAnswer(buf);
  if (r === 'incomplete') return undefined;
  if (r === 'unknown-rule') throw protocolError(`unknown rule type 0x${(buf[0]! & 0x7f).toString(16)}`);
  return { value: r.answer, length: r.length };
};

/**
 * RFC 6066 allows only host names as SNI (Node warns DEP0123 for an IP). When the name to
 * verify is an IP, no SNI is sent and `host`, which Node checks the certificate against when
 * there is no servername, is that IP: the certificate must carry it as an IP SAN.
 */
function tlsIdentity(host: string, options: tls.ConnectionOptions): { host: string; servername?: string } {
  const name = options.servername ?? options.host ?? host;
  return net.isIP(name) === 0 ? { host: options.host ?? host, servername: name } : { host: name };
}

async function upgrade(socket: net.Socket, host: string, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const { servername: _, ...rest } = options;
  const secure = tls.connect({ ...rest, ...tlsIdentity(host, options), socket });
  try {
    await once(secure, 'secureConnect');
  } catch (err) {
    secure.destroy();
    throw toClientError(err, ClientErrorCode.TLS, 'TLS handshake failed');
  }
  return secure;
}

function protocolError(message: string): ClientError {
  return new ClientError(ClientErrorCode.PROTOCOL, message);
}
