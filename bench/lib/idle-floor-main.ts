/**
 * Node's own memory per idle connection, with no daemon code: the floor under
 * sessions/plain/rss-per-session-held and sessions/tls/rss-per-session-held (issue 14).
 *
 *   node --expose-gc dist/bench/lib/idle-floor-main.js plain|tls [connections]
 *
 * A bare server in this process accepts `connections` (default 3 000) from a client process it
 * forks, reads one chunk from each and holds it idle; TLS is a `TLSSocket` over the accepted
 * socket, as the daemon makes it (handshake.ts), with a self-signed certificate. Measured as
 * daemon-main.ts measures the daemon: RSS less V8's young generation and heapUsed, after two
 * forced GCs, held against listening (the young generation grown first on both sides);
 * printed as one JSON line.
 */
import { fork } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { MEM_SETTLE_MS, forceGcs, youngGenerationBytes } from './settled-memory.js';

const [role = 'plain', nArg = '3000', portArg = '0', caBase64 = ''] = process.argv.slice(2);
const n = Number(nArg);
/** Handshakes in flight from the client at once (the sessions scenario's TLS load uses 64). */
const CONCURRENCY = 64;

function client(useTls: boolean, port: number, ca: string | undefined): void {
  const held: net.Socket[] = [];
  let started = 0;
  const next = (): void => {
    if (started >= n) return;
    started++;
    const onOpen = (): void => {
      s.write('hello');
      held.push(s);
      if (held.length === n) process.send?.('opened');
      else next();
    };
    const s: net.Socket = useTls
      ? tls.connect({ port, host: '127.0.0.1', ca, checkServerIdentity: () => undefined }, onOpen)
      : net.connect(port, '127.0.0.1', onOpen);
    s.on('error', (err) => { process.stderr.write(`idle-floor client: ${err.message}\n`); process.exit(1); });
  };
  for (let k = 0; k < CONCURRENCY; k++) next();
  process.on('message', () => process.exit(0));
}

async function heldBytes(): Promise<{ rssLessYoung: number; heap: number; rss: number; young: number }> {
  if (!forceGcs()) throw new Error('run with --expose-gc');
  // As daemon-main's memory(): once the pages the GCs freed are given back.
  await new Promise((r) => setTimeout(r, MEM_SETTLE_MS));
  const young = youngGenerationBytes();
  const usage = process.memoryUsage();
  return { rssLessYoung: usage.rss - young, heap: usage.heapUsed, rss: usage.rss, young };
}

/**
 * Grows V8's young generation to its cap and touches it before the first measure, as the
 * connections' handshakes do before the second: subtracting its committed size from RSS is
 * only exact when both measures have it grown and resident.
 */
function growYoungGeneration(): void {
  let keep: Array<{ i: number }> | undefined = [];
  for (let i = 0; i < 2_000_000; i++) keep.push({ i });
  keep = undefined;
}

async function server(useTls: boolean): Promise<void> {
  growYoungGeneration();
  const pair = useTls ? await generateSelfSigned({ commonName: 'localhost', days: 1 }) : undefined;
  const ctx = pair && tls.createSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' });
  const held: net.Socket[] = [];
  const srv = net.createServer((raw) => {
    const s = ctx ? new tls.TLSSocket(raw, { isServer: true, secureContext: ctx }) : raw;
    s.once('data', () => {});
    s.on('error', () => {});
    held.push(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const before = await heldBytes();
  // The client gets the certificate to trust in its arguments (base64 PEM).
  const args = [useTls ? 'tls-client' : 'plain-client', String(n), String((srv.address() as AddressInfo).port), pair ? Buffer.from(pair.cert).toString('base64') : ''];
  const c = fork(fileURLToPath(import.meta.url), args, { execArgv: [] });
  await new Promise<void>((resolve, reject) => {
    c.once('message', () => resolve());
    c.once('exit', (code) => reject(new Error(`idle-floor client exited (${code})`)));
  });
  // The last chunks are read a moment after the client says every connection is open.
  await new Promise((r) => setTimeout(r, 500));
  const after = await heldBytes();
  process.stdout.write(`${JSON.stringify({
    kind: useTls ? 'tls' : 'plain', connections: held.length,
    rssLessYoungKiBPerConnection: +((after.rssLessYoung - before.rssLessYoung) / held.length / 1024).toFixed(2),
    heapKiBPerConnection: +((after.heap - before.heap) / held.length / 1024).toFixed(2),
    rssKiBPerConnection: +((after.rss - before.rss) / held.length / 1024).toFixed(2),
    youngMiB: [before.young / 2 ** 20, after.young / 2 ** 20],
  })}\n`);
  c.send('bye');
  srv.close();
  for (const s of held) s.destroy();
}

if (role === 'plain-client' || role === 'tls-client') {
  client(role === 'tls-client', Number(portArg), caBase64 ? Buffer.from(caBase64, 'base64').toString('utf8') : undefined);
} else if (role === 'plain' || role === 'tls') {
  server(role === 'tls').catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
} else {
  process.stderr.write('usage: node --expose-gc idle-floor-main.js plain|tls [connections]\n');
  process.exitCode = 2;
}
