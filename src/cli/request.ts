import type { Command } from 'commander';
import { ExitCode, type CliIo } from './io.js';
import { parseFormat, parsePositive } from './args.js';
import { describeHttpFailure, parseHttpUrl, trustAgent, type HttpTrustOptions } from './http-target.js';

interface RequestOptions extends HttpTrustOptions {
  url: string;
  key: string;
  uid: string;
  payload: string;
  format: 'BINARY' | 'ASCII' | 'UTF8' | 'JSON';
  timeout?: number;
}

/** `--payload` is JSON text; for ASCII/UTF8 a bare word is taken as the string itself. */
function payloadValue(text: string, format: RequestOptions['format']): unknown {
  try {
    return JSON.parse(text);
  } catch {
    if (format === 'ASCII' || format === 'UTF8') return text;
    throw new Error(`--payload: not valid JSON for format ${format}`);
  }
}

/** One POST /request; prints the JSON answer. Exit 0 only for Code 0; 3 for another Code; 2 for HTTP or network failures. */
export async function runRequest(o: RequestOptions, io: CliIo): Promise<number> {
  let body: string;
  let dispatcher: Awaited<ReturnType<typeof trustAgent>>;
  try {
    body = JSON.stringify({ UID: o.uid, Format: o.format, Payload: payloadValue(o.payload, o.format), ...(o.timeout ? { Timeout: o.timeout } : {}) });
    dispatcher = await trustAgent(o);
  } catch (err) {
    io.err(`iotsocket request: ${(err as Error).message}\n`);
    return ExitCode.USAGE;
  }
  const url = new URL('request', o.url.endsWith('/') ? o.url : `${o.url}/`);
  try {
    const { request: httpRequest } = await import('undici'); // not loaded by `start` (issue 14)
    const res = await httpRequest(url, {
      method: 'POST', body, dispatcher,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${o.key}` },
      headersTimeout: ((o.timeout ?? 30) + 10) * 1000,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      io.err(`iotsocket request: HTTP ${res.statusCode}: ${text}\n`);
      return ExitCode.RUNTIME;
    }
    io.out(`${text}\n`);
    return (JSON.parse(text) as { Code?: number }).Code === 0 ? ExitCode.OK : ExitCode.NOT_OK_CODE;
  } catch (err) {
    io.err(`iotsocket request: ${describeHttpFailure(err, url)}\n`);
    return ExitCode.RUNTIME;
  } finally {
    await dispatcher?.close();
  }
}

export function registerRequest(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('request')
    .description('send one request to an object through the HTTP API and print the answer (exit 0 only for Code 0)')
    .requiredOption('--url <url>', 'HTTP API base URL, e.g. http://127.0.0.1:8080', parseHttpUrl)
    .requiredOption('--key <hex>', 'the central auth key (Bearer)')
    .requiredOption('--uid <uid>', 'the target object UID')
    .requiredOption('--payload <json>', 'payload as JSON text (a bare word is accepted for ASCII/UTF8)')
    .option('--format <format>', 'JSON, ASCII, UTF8 or BINARY', parseFormat, 'JSON')
    .option('--timeout <sec>', 'seconds to wait for the object (capped by http.maxWaitSec)', parsePositive)
    .option('--ca <file>', 'with https://: trust this CA / self-signed certificate (PEM)')
    .option('--insecure', 'with https://: accept any certificate (development only)')
    .action(async (opts: RequestOptions) => done(await runRequest(opts, io)));
}
