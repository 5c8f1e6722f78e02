import type { Command } from 'commander';
import type { Dispatcher } from 'undici';
import { ExitCode, type CliIo } from './io.js';
import { parsePositive } from './args.js';
import { describeHttpFailure, parseHttpUrl, trustAgent, type HttpTrustOptions } from './http-target.js';

interface DrainOptions extends HttpTrustOptions {
  url: string;
  key: string;
  rate?: number;
  wait?: boolean;
  timeout: number;
  status?: boolean;
  cancel?: boolean;
}

interface DrainStatus {
  draining: boolean;
  sessionsLeft: number;
  done: boolean;
}

/** How often `--wait` asks for the status. */
const POLL_MS = 500;

/**
 * `POST /admin/drain` at one node (or GET with --status, DELETE with --cancel); prints the JSON
 * status. `--wait` polls until the node holds no session (exit 0) or `--timeout` passes (exit 2).
 */
export async function runDrain(o: DrainOptions, io: CliIo): Promise<number> {
  let dispatcher: Awaited<ReturnType<typeof trustAgent>>;
  try {
    if (o.status && o.cancel) throw new Error('--status and --cancel: give one of them');
    dispatcher = await trustAgent(o);
  } catch (err) {
    io.err(`iotsocket drain: ${(err as Error).message}\n`);
    return ExitCode.USAGE;
  }
  const base = new URL('admin/drain', o.url.endsWith('/') ? o.url : `${o.url}/`);
  const method = o.status ? 'GET' : o.cancel ? 'DELETE' : 'POST';
  const url = new URL(base);
  if (method === 'POST' && o.rate !== undefined) url.searchParams.set('rate', String(o.rate));
  try {
    let status = await call(url, method, o.key, dispatcher, io);
    if (status === undefined) return ExitCode.RUNTIME;
    io.out(`${JSON.stringify(status)}\n`);
    if (!o.wait || method === 'DELETE') return ExitCode.OK;
    const deadline = Date.now() + o.timeout * 1000;
    while (!status.done) {
      if (!status.draining) {
        io.err('iotsocket drain: the node is not draining (cancelled?)\n');
        return ExitCode.RUNTIME;
      }
      if (Date.now() > deadline) {
        io.err(`iotsocket drain: ${status.sessionsLeft} sessions still on the node after ${o.timeout} s\n`);
        return ExitCode.RUNTIME;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
      status = await call(base, 'GET', o.key, dispatcher, io);
      if (status === undefined) return ExitCode.RUNTIME;
    }
    io.out(`${JSON.stringify(status)}\n`);
    return ExitCode.OK;
  } catch (err) {
    io.err(`iotsocket drain: ${describeHttpFailure(err, base)}\n`);
    return ExitCode.RUNTIME;
  } finally {
    await dispatcher?.close();
  }
}

/** One call; undefined after printing the HTTP error. */
async function call(url: URL, method: 'GET' | 'POST' | 'DELETE', key: string, dispatcher: Dispatcher | undefined, io: CliIo): Promise<DrainStatus | undefined> {
  const { request: httpRequest } = await import('undici'); // not loaded by `start` (issue 14)
  const res = await httpRequest(url, { method, dispatcher, headers: { authorization: `Bearer ${key}` }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  if (res.statusCode >= 300) {
    io.err(`iotsocket drain: HTTP ${res.statusCode}: ${text}\n`);
    return undefined;
  }
  return JSON.parse(text) as DrainStatus;
}

export function registerDrain(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('drain')
    .description('drain one cluster node: new clients go to other nodes, its sessions move there at a bounded rate')
    .requiredOption('--url <url>', "the node's admin API base URL (admin.port, else its HTTP API), e.g. http://127.0.0.1:8080", parseHttpUrl)
    .requiredOption('--key <hex>', 'the central auth key (Bearer)')
    .option('--rate <n>', 'sessions per second (default: the node\'s cluster.drainRate)', parsePositive)
    .option('--wait', 'wait until the node holds no session (exit 0), or --timeout passes (exit 2)')
    .option('--timeout <sec>', 'with --wait: how long to wait', parsePositive, 300)
    .option('--status', 'only print the drain status (GET)')
    .option('--cancel', 'cancel a drain: the node takes new sessions again (DELETE)')
    .option('--ca <file>', 'with https://: trust this CA / self-signed certificate (PEM)')
    .option('--insecure', 'with https://: accept any certificate (development only)')
    .action(async (opts: DrainOptions) => done(await runDrain(opts, io)));
}
