import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import type { Agent } from 'undici';

/** How the CLI reaches a daemon's HTTP(S) API: `--ca FILE` and `--insecure`, as `iotsocket object` has them. */
export interface HttpTrustOptions {
  readonly ca?: string;
  readonly insecure?: boolean;
}

/** `--url`: an http:// or https:// base URL. Anything else (`127.0.0.1:8080`) is a usage error. */
export function parseHttpUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new InvalidArgumentError('expected a URL starting with http:// or https://, e.g. http://127.0.0.1:8080');
  }
  return value;
}

/**
 * An undici Agent trusting `--ca` or, with `--insecure`, any certificate; undefined for the
 * default one. Throws an Error naming `--ca` when the file cannot be read.
 */
export async function trustAgent(o: HttpTrustOptions): Promise<Agent | undefined> {
  if (!o.ca && !o.insecure) return undefined;
  let ca: string | undefined;
  if (o.ca) {
    try {
      ca = readFileSync(o.ca, 'utf8');
    } catch (err) {
      throw new Error(`--ca: cannot read ${o.ca}: ${(err as Error).message}`);
    }
  }
  const { Agent: UndiciAgent } = await import('undici'); // not loaded by `start` (issue 14)
  return new UndiciAgent({ connect: { ...(ca ? { ca } : {}), ...(o.insecure ? { rejectUnauthorized: false } : {}) } });
}

const CERT_CODES = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

/** A failed call as one line a user can act on: who was unreachable, or why the certificate was refused. */
export function describeHttpFailure(err: unknown, base: URL): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  const message = e.message || e.cause?.message || String(err);
  const address = `${base.hostname}:${base.port || (base.protocol === 'https:' ? 443 : 80)}`;
  if (code === 'ECONNREFUSED') return `cannot connect to ${address} (connection refused): is the daemon running? (its HTTP API needs http.enabled)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve ${base.hostname}: ${message}`;
  if (CERT_CODES.test(code)) return `the certificate of ${address} is not trusted (${message}): use --ca FILE or --insecure`;
  if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER') return `TLS with ${address} failed (${message}): is it https:// there?`;
  return `${address}: ${message}`;
}
