import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ClientError, ClientErrorCode, ObjectClient, json, type Payload } from '../client/index.js';
import { CloseCode, FORMAT_NAMES, Format } from '../protocol/index.js';
import { ExitCode, type CliIo } from './io.js';
import { parseHostPort, parseKey, parsePositive } from './args.js';

interface ObjectOptions {
  connect: { host: string; port: number };
  uid: string;
  key: Buffer;
  tls?: boolean;
  insecure?: boolean;
  ca?: string;
  echo?: boolean;
  telemetryEvery?: number;
  udp?: { host: string; port: number };
}

function describe(p: Payload): unknown {
  const text = p.data.toString('utf8');
  return { Format: FORMAT_NAMES[p.format] ?? p.format, Payload: p.format === Format.BINARY ? [...p.data] : text };
}

/**
 * The SDK's message, and for a refusal at initiation (OK=0) what it usually means: the SDK
 * cannot know why, but an operator reading this line needs somewhere to look.
 */
function explain(err: Error): string {
  if (!(err instanceof ClientError) || err.code !== ClientErrorCode.REFUSED) return err.message;
  return 'refused at initiation (OK=0): this usually means the concentrator banned this IP after too many failed authentications '
    + '(its log says "banned <ip> until <time>"; list and lift bans with GET /admin/bans and DELETE /admin/bans/{ip}), '
    + 'or it is full or shutting down';
}

/**
 * A device simulator: authenticates (following a redirect once, as the SDK does), answers requests (echo, or code 0 with an empty payload),
 * optionally sends JSON telemetry over UDP, reconnects with backoff (a growing one after each
 * takeover, so two simulators sharing a UID do not evict each other in a loop), prints one JSON line per event.
 */
export async function runObject(o: ObjectOptions, io: CliIo): Promise<number> {
  const line = (obj: Record<string, unknown>) => io.out(`${JSON.stringify({ at: new Date().toISOString(), ...obj })}\n`);
  const tls = o.tls ? { rejectUnauthorized: !o.insecure, ca: o.ca ? readFileSync(o.ca, 'utf8') : undefined } : undefined;
  const client = new ObjectClient({
    ...o.connect, uid: o.uid, key: o.key, tls, reconnect: true, udp: o.udp,
    handler: (req) => {
      line({ event: 'request', tracking: req.tracking, ...(describe(req.payload) as object) });
      return o.echo ? { code: 0, payload: req.payload } : { code: 0 };
    },
  });
  client.on('connected', (a) => line({ event: 'connected', ...a }));
  client.on('close', (e) => line({ event: 'disconnected', code: e.code, remote: e.remote, willReconnect: e.willReconnect }));
  // After a takeover (Close 0xA1: another process uses this UID) the delay grows per takeover in a row.
  client.on('reconnect', (e: { attempt: number; delayMs: number; takenOver?: boolean }) => line({ event: 'reconnect', ...e }));
  client.on('token', () => line({ event: 'token' }));
  client.on('error', (err) => line({ event: 'error', code: err.code, message: explain(err) }));
  // The signal handlers come first: a SIGTERM right after the 'connected' line (emitted inside
  // connect()) must stop the simulator cleanly, not kill it by the default action.
  let ticker: NodeJS.Timeout | undefined;
  let stopping = false;
  let stopped: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => { stopped = resolve; });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    io.signals.removeListener('SIGINT', stop);
    io.signals.removeListener('SIGTERM', stop);
    client.close(CloseCode.MAINTENANCE).finally(() => stopped(ExitCode.OK));
  };
  io.signals.on('SIGINT', stop);
  io.signals.on('SIGTERM', stop);
  try {
    await client.connect();
  } catch (err) {
    if (stopping) return done;
    io.signals.removeListener('SIGINT', stop);
    io.signals.removeListener('SIGTERM', stop);
    io.err(`iotsocket object: ${explain(err as Error)}\n`);
    return ExitCode.RUNTIME;
  }
  let sent = 0;
  if (o.telemetryEvery && !stopping) {
    ticker = setInterval(() => {
      client.sendTelemetry(json({ n: ++sent, at: new Date().toISOString() })).then(
        () => line({ event: 'telemetry', n: sent }),
        (err: Error) => line({ event: 'telemetry-failed', message: err.message }),
      );
    }, o.telemetryEvery * 1000);
  }
  return done;
}

export function registerObject(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('object')
    .description('simulate a device: authenticate, answer requests, send telemetry')
    .requiredOption('--connect <host:port>', 'concentrator TCP address', parseHostPort)
    .requiredOption('--uid <uid>', 'the object UID (at most 16 bytes of UTF-8)')
    .requiredOption('--key <hex>', 'the object auth key (32 hex digits)', parseKey)
    .option('--tls', 'ask for TLS')
    .option('--insecure', 'with --tls: accept any certificate (development only)')
    .option('--ca <file>', 'with --tls: trust this CA / self-signed certificate (PEM)')
    .option('--echo', 'answer each request with its own payload (default: code 0, empty payload)')
    .option('--telemetry-every <sec>', 'send a JSON telemetry datagram every SEC seconds', parsePositive)
    .option('--udp <host:port>', 'telemetry address (default: the TCP address)', parseHostPort)
    .action(async (opts: ObjectOptions) => done(await runObject(opts, io)));
}
