/**
 * The load side of the session scenarios, shared by their load children: open object sessions
 * [from, to) with bounded concurrency over several loopback source addresses (leanHandshake,
 * not the SDK: the load side's CPU is what limits the figures), ping every one (the
 * concentrator answers Pong itself), close them all with Close 0x01.
 */
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { toParent, type Msg } from './child.js';
import { objectKey, objectUid } from './config.js';
import { CLOSE_MAINTENANCE } from './connect.js';
import { leanHandshake } from './lean-handshake.js';

export interface OpenArgs {
  readonly port: number;
  readonly ca?: string;
  readonly from: number;
  readonly to: number;
  readonly localAddresses: readonly string[];
  readonly concurrency: number;
  /** Check the certificate on every TLS session, not only the first of the process. */
  readonly verifyAll?: boolean;
  /** No new session is started after this long in the opening phase. */
  readonly openMs: number;
}

/** What one load process did in the opening phase; `cpuMs` (user + system) shows whether it saturated its core. */
export interface Opened {
  readonly opened: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly ms: number;
  readonly cpuMs: number;
}

const PING = Buffer.from([0x10]);
const PONG = 0x20;

/** Resolves on the parent's next message of `type`. */
export function command(type: string): Promise<Msg> {
  return new Promise((resolve) => {
    const on = (m: Msg) => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve(m);
    };
    process.on('message', on);
  });
}

/** Opens the sessions; `sockets` gets each open one under its object index, and `onOpen` sees it first. */
export async function openSessions(a: OpenArgs, sockets: Map<number, Duplex>, onOpen?: (i: number, s: Duplex) => void): Promise<Opened> {
  // One context for every connection: building one per connect would parse the CA each time.
  const trusting = a.ca ? tls.createSecureContext({ ca: a.ca }) : undefined;
  // The first TLS session of each process checks the daemon's certificate against the CA; the
  // others trust no CA and skip Node's certificate check, which would make the load side the
  // limit (lean-handshake.ts). Node converts the certificate to an object only once it verified.
  const untrusting = a.ca && !a.verifyAll ? tls.createSecureContext({}) : undefined;
  let verified = false;
  // The keys are derived before the clock starts: deriving one (a SHA-256) is the bench's way
  // of sharing them without a file, not part of a device's handshake.
  const keys = Array.from({ length: Math.max(0, a.to - a.from) }, (_, k) => objectKey(a.from + k));
  let next = a.from;
  let failed = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const deadline = t0 + a.openMs;
  const worker = async (): Promise<void> => {
    while (next < a.to && performance.now() < deadline) {
      const i = next++;
      try {
        const verify = !untrusting || !verified;
        verified = true;
        const s = await leanHandshake({
          port: a.port, uid: objectUid(i), key: keys[i - a.from]!, localAddress: a.localAddresses[i % a.localAddresses.length]!,
          secureContext: verify ? trusting : untrusting, verify,
        });
        s.on('error', () => {});
        onOpen?.(i, s);
        sockets.set(i, s);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: a.concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { opened: sockets.size, failed, firstError, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Pings every socket; resolves with how many answered Pong within `timeoutMs`. */
export function pingAll(sockets: Iterable<Duplex>, timeoutMs: number): Promise<number> {
  const all = [...sockets];
  let answered = 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(answered), timeoutMs);
    for (const s of all) {
      const onData = (chunk: Buffer) => {
        if (!chunk.includes(PONG)) return;
        s.off('data', onData);
        s.pause();
        if (++answered === all.length) {
          clearTimeout(timer);
          resolve(answered);
        }
      };
      s.on('data', onData);
      s.resume();
      s.write(PING);
    }
    if (all.length === 0) resolve(0);
  });
}

/** Ends every session with Close 0x01 (nothing kept), then destroys what has not closed within `timeoutMs`. */
export async function closeAll(sockets: Iterable<Duplex>, timeoutMs: number): Promise<number> {
  const all = [...sockets];
  let closed = 0;
  const done = all.map((s) => new Promise<void>((r) => {
    s.once('close', () => { closed++; r(); });
    s.resume();
    s.end(CLOSE_MAINTENANCE);
  }));
  await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, timeoutMs))]);
  for (const s of all) s.destroy();
  return closed;
}

/** The child's last step: report, then leave once the message is out. */
export function reportAndExit(msg: Msg): void {
  toParent(msg);
  setTimeout(() => {
    process.disconnect?.();
    process.exit(0);
  }, 100);
}
