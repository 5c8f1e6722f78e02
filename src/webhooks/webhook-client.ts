import { rootCertificates } from 'node:tls';
import type { Pool } from 'undici';
import type { Clock } from '../clock.js';
import { IotsError } from '../errors.js';
import { JsonPayloadError, payloadToJson } from '../protocol/json-payload.js';
import type { Payload } from '../protocol/index.js';
import type { Metrics } from '../observability/metrics.js';
import { WebhookSigner } from './webhook-signature.js';

export type HookName = 'request' | 'telemetry' | 'presence';

/** How one POST ended, at the HTTP level. */
export type PostOutcome = 'success' | 'http-error' | 'connection-error' | 'timeout' | 'too-large' | 'closed';

export interface PostResult {
  readonly outcome: PostOutcome;
  readonly status?: number;
  /** The answer body (UTF-8), when asked for and the status is 2xx. */
  readonly text?: string;
  /** The error code behind a connection error (ECONNREFUSED, UND_ERR_SOCKET, a TLS code...). */
  readonly errorCode?: string;
}

/** One message ready to POST, as often as it takes: its headers (signature included) are fixed. */
export interface WebhookMessage {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface WebhookClientOptions {
  /** The central auth key: sent as `Authorization: Bearer <hex>` (PROTOCOL §8). */
  readonly authKey: Buffer;
  /** Standard Webhooks key (central.webhooks.secret, decoded): when set, every message is also signed. */
  readonly signingKey?: Buffer;
  /** Extra trusted CA (PEM), added to Node's roots. Certificates are always verified. */
  readonly ca?: string | Buffer;
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** Upper bound of sockets per hook and origin. */
  readonly connectionsPerOrigin?: number;
  /** Answers larger than this are refused (a webhook answer holds at most one payload). */
  readonly maxAnswerBytes?: number;
}

/** Fire-and-forget POSTs (telemetry, presence) sent on one socket before its first answer. */
export const WEBHOOK_PIPELINING = 4;

const TIMEOUT = Symbol('timeout');
const CLOSED = Symbol('closed');

/**
 * POSTs JSON to webhook URLs over one keep-alive undici Pool per hook and origin (never a
 * connection per call). A pool per hook: a telemetry backlog on a stalled endpoint holds
 * every connection of its pool, and must not leave object requests waiting behind it.
 * Deadlines follow the injected clock. No logging here: callers know the context.
 */
export class WebhookClient {
  readonly #opts: WebhookClientOptions;
  readonly #pools = new Map<string, Pool>();
  /**
   * undici, imported by the first POST: a daemon with no webhook configured never loads it
   * (~7 MiB of RSS at start, issue 14); once loaded, a POST finds its pool without an await.
   */
  #undici: typeof import('undici') | undefined;
  #loadingUndici: Promise<typeof import('undici')> | undefined;
  readonly #inFlight = new Set<AbortController>();
  readonly #headers: Readonly<Record<string, string>>;
  readonly #signer: WebhookSigner | undefined;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(opts: WebhookClientOptions) {
    this.#opts = opts;
    this.#headers = Object.freeze({ 'content-type': 'application/json', authorization: `Bearer ${opts.authKey.toString('hex')}` });
    this.#signer = opts.signingKey ? new WebhookSigner(opts.signingKey, opts.clock) : undefined;
  }

  /** A new message (a new webhook-id and timestamp when signing); post it, and repost it on retry. */
  message(body: string): WebhookMessage {
    const headers = this.#signer ? { ...this.#headers, ...this.#signer.sign(body) } : this.#headers;
    return { body, headers };
  }

  /** POSTs a message as JSON; never throws. `readAnswer`: also return the 2xx body as text. */
  async post(hook: HookName, url: URL, msg: WebhookMessage, timeoutMs: number, readAnswer: boolean): Promise<PostResult> {
    if (this.#closing || this.#destroying) return { outcome: 'closed' };
    const { clock, metrics } = this.#opts;
    const ac = new AbortController();
    const timer = clock.setTimeout(() => ac.abort(TIMEOUT), timeoutMs);
    this.#inFlight.add(ac);
    const started = clock.now();
    const sending = this.#undici
      ? this.#send(this.#pool(hook, url, this.#undici.Pool), url, msg, readAnswer, ac.signal)
      : this.#sendFirst(hook, url, msg, readAnswer, ac.signal);
    const result = await sending.finally(() => {
      clock.clearTimeout(timer);
      this.#inFlight.delete(ac);
    });
    metrics.webhookPosts.labels(hook, result.outcome).inc();
    metrics.webhookDuration.labels(hook).observe(Math.max(0, clock.now() - started) / 1000);
    return result;
  }

  /** Aborts what is in flight and closes every pool. Idempotent. */
  close(): Promise<void> {
    return this.#closing ?? this.#destroying ?? this.#shutdown('close');
  }

  /** Like close(), dropping sockets at once. Idempotent, and safe after close(). */
  destroy(): Promise<void> {
    return this.#destroying ?? this.#shutdown('destroy');
  }

  /** A POST made before undici is loaded: loads it, unless the POST was aborted (closed, timed out) meanwhile. */
  async #sendFirst(hook: HookName, url: URL, msg: WebhookMessage, readAnswer: boolean, signal: AbortSignal): Promise<PostResult> {
    this.#undici ??= await (this.#loadingUndici ??= import('undici'));
    if (signal.aborted) return { outcome: signal.reason === TIMEOUT ? 'timeout' : 'closed' };
    return this.#send(this.#pool(hook, url, this.#undici.Pool), url, msg, readAnswer, signal);
  }

  async #send(pool: Pool, url: URL, msg: WebhookMessage, readAnswer: boolean, signal: AbortSignal): Promise<PostResult> {
    try {
      const res = await pool.request({
        method: 'POST',
        path: url.pathname + url.search,
        headers: msg.headers,
        body: msg.body,
        signal,
        // Hooks whose answer is not read are delivered at least once (the queue retries) and
        // answered at once, so undici may pipeline them (it needs both flags); request
        // webhooks stay one per socket at a time.
        idempotent: !readAnswer,
        blocking: readAnswer,
      });
      const status = res.statusCode;
      if (status < 200 || status > 299 || !readAnswer) {
        await res.body.dump();
        return { outcome: status >= 200 && status <= 299 ? 'success' : 'http-error', status };
      }
      const text = await readLimited(res.body, this.#opts.maxAnswerBytes ?? 1 << 20);
      return text === undefined ? { outcome: 'too-large', status } : { outcome: 'success', status, text };
    } catch (err) {
      if (signal.aborted) return { outcome: signal.reason === TIMEOUT ? 'timeout' : 'closed' };
      return { outcome: 'connection-error', errorCode: (err as { code?: string }).code ?? 'unknown' };
    }
  }

  #pool(hook: HookName, url: URL, UndiciPool: typeof Pool): Pool {
    const key = `${hook} ${url.origin}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      const ca = this.#opts.ca;
      pool = new UndiciPool(url.origin, {
        connections: this.#opts.connectionsPerOrigin ?? 64,
        pipelining: WEBHOOK_PIPELINING,
        keepAliveTimeout: 10_000,
        connect: ca ? { ca: [...rootCertificates, ca.toString()] } : undefined,
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  #shutdown(how: 'close' | 'destroy'): Promise<void> {
    for (const ac of this.#inFlight) ac.abort(CLOSED);
    const pools = [...this.#pools.values()];
    const done = Promise.all(pools.map((p) => (how === 'close' ? p.close() : p.destroy()).catch(() => {}))).then(() => {});
    if (how === 'close') this.#closing = done;
    else this.#destroying = done;
    return done;
  }
}

/** Reads a body up to `max` bytes; undefined (and the rest discarded) when larger. */
async function readLimited(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A webhook URL that is not http(s), or a CA file that cannot be read. */
export class WebhookConfigError extends IotsError {
  constructor(code: 'ERR_IOTS_WEBHOOK_URL' | 'ERR_IOTS_WEBHOOK_CA', message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

export function parseWebhookUrl(hook: HookName, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new WebhookConfigError('ERR_IOTS_WEBHOOK_URL', `central.webhooks.${hook} is not a URL`, cause);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookConfigError('ERR_IOTS_WEBHOOK_URL', `central.webhooks.${hook} must be an http: or https: URL`);
  }
  return url;
}

/**
 * The body of a request or telemetry webhook (PROTOCOL §8): `{"UID","Payload","Format"}`,
 * or the reason the payload has no JSON form.
 */
export function webhookBody(uid: string, payload: Payload): string | JsonPayloadError {
  const json = payloadToJson(payload);
  return json instanceof JsonPayloadError ? json : JSON.stringify({ UID: uid, Payload: json.Payload, Format: json.Format });
}
