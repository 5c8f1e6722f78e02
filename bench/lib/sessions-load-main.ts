/**
 * Load child for the sessions scenario: opens object sessions [from, to) with bounded
 * concurrency over several loopback source addresses (leanHandshake, not the SDK: the
 * load side's CPU is what limits the figures), then on command pings every one (the
 * concentrator answers Pong itself) and closes them all with Close 0x01.
 */
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { objectKey, objectUid } from './config.js';
import { CLOSE_MAINTENANCE } from './connect.js';
import { leanHandshake } from './lean-handshake.js';

interface LoadArgs {
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
  /** Hard lifetime of the process. */
  readonly maxMs: number;
}

const a = childPayload<LoadArgs>();
const sockets: Duplex[] = [];
const PING = Buffer.from([0x10]);
const PONG = 0x20;

function command(type: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: Msg) => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve();
    };
    process.on('message', on);
  });
}

/** What one load process did in the opening phase; `cpuMs` (user + system) shows whether it saturated its core. */
async function openAll(): Promise<{ opened: number; failed: number; firstError?: string; ms: number; cpuMs: number }> {
  // One context for every connection: building one per connect would parse the CA each time.
  const trusting = a.ca ? tls.createSecureContext({ ca: a.ca }) : undefined;
  // The first TLS session of each process checks the daemon's certificate against the CA; the
  // others trust no CA and skip Node's certificate check, which would make the load side the
  // limit (lean-handshake.ts). Node converts the certificate to an object only once it verified.
  const untrusting = a.ca && !a.verifyAll ? tls.createSecureContext({}) : undefined;
  let verified = false;
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
          port: a.port, uid: objectUid(i), key: objectKey(i), localAddress: a.localAddresses[i % a.localAddresses.length]!,
          secureContext: verify ? trusting : untrusting, verify,
        });
        s.on('error', () => {});
        sockets.push(s);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: a.concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { opened: sockets.length, failed, firstError, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function pingAll(timeoutMs: number): Promise<number> {
  let answered = 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(answered), timeoutMs);
    for (const s of sockets) {
      const onData = (chunk: Buffer) => {
        if (!chunk.includes(PONG)) return;
        s.off('data', onData);
        s.pause();
        if (++answered === sockets.length) {
          clearTimeout(timer);
          resolve(answered);
        }
      };
      s.on('data', onData);
      s.resume();
      s.write(PING);
    }
    if (sockets.length === 0) resolve(0);
  });
}

async function closeAll(timeoutMs: number): Promise<number> {
  let closed = 0;
  const all = sockets.map((s) => new Promise<void>((r) => {
    s.once('close', () => { closed++; r(); });
    s.resume();
    s.end(CLOSE_MAINTENANCE);
  }));
  await Promise.race([Promise.all(all), new Promise((r) => setTimeout(r, timeoutMs))]);
  for (const s of sockets) s.destroy();
  return closed;
}

async function main(): Promise<void> {
  lifeline(a.maxMs);
  toParent({ type: 'ready', pid: process.pid });
  await command('go');
  toParent({ type: 'opened', ...(await openAll()) });
  await command('ping');
  toParent({ type: 'pinged', answered: await pingAll(20_000) });
  await command('close');
  toParent({ type: 'closed', closed: await closeAll(20_000) });
  setTimeout(() => {
    process.disconnect?.();
    process.exit(0);
  }, 100);
}

main().catch(failChild);
