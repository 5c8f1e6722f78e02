import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodePayloadJson, type Payload } from '../../src/client/index.js';

/**
 * Every UDP telemetry datagram of a soak, by id (carried in its JSON payload with the UID that
 * sent it), and where it was counted: at the central's TCP session or at the telemetry webhook.
 * UDP is not a delivery guarantee, so a datagram may go missing while something fails; it is
 * never counted twice, nor under another UID than its sender's ("misattributed").
 */
export class TelemetryLedger {
  readonly #sent = new Map<string, { readonly uid: string; readonly at: number; via?: 'central' | 'webhook' }>();
  readonly violations: string[] = [];
  readonly counted = { central: 0, webhook: 0 };
  #seq = 0;

  constructor(readonly now: () => number) {}

  sent(uid: string): string {
    const id = `d${++this.#seq}`;
    this.#sent.set(id, { uid, at: this.now() });
    return id;
  }

  /** The datagram `id` reached the central (or the webhook) as from `uid`. */
  arrived(id: unknown, uid: string, via: 'central' | 'webhook'): void {
    const d = typeof id === 'string' ? this.#sent.get(id) : undefined;
    if (!d) return void this.violations.push(`misattributed: telemetry ${JSON.stringify(id)} from ${uid} (${via}) was never sent`);
    if (d.uid !== uid) this.violations.push(`misattributed: telemetry ${id} sent by ${d.uid} arrived as from ${uid} (${via})`);
    if (d.via) return void this.violations.push(`duplicated: telemetry ${id} arrived twice (${d.via}, then ${via})`);
    d.via = via;
    this.counted[via]++;
  }

  /** An identified telemetry at the central's TCP session (its payload: the test's JSON with the datagram's id). */
  atCentral(uid: string, payload: Payload): void {
    let body: { d?: unknown } = {};
    try {
      body = decodePayloadJson(payload);
    } catch { /* judged as an unknown id */ }
    this.arrived(body.d, uid, 'central');
  }

  get sentCount(): number {
    return this.#sent.size;
  }

  /** Datagrams sent at a moment `calm` accepts that were never counted; and how many were sent then. */
  missingWhen(calm: (at: number) => boolean): { sent: number; missing: string[] } {
    let sent = 0;
    const missing: string[] = [];
    for (const [id, d] of this.#sent) {
      if (!calm(d.at)) continue;
      sent++;
      if (!d.via) missing.push(`${id} from ${d.uid} at +${d.at}`);
    }
    return { sent, missing };
  }
}

/** The central's telemetry webhook: a real HTTP server that counts each POST into `ledger` and answers 200. */
export class TelemetryHook {
  readonly #server: Server;
  #port = 0;

  private constructor(ledger: TelemetryLedger) {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { UID?: string; Payload?: { d?: unknown } };
          ledger.arrived(body.Payload?.d, String(body.UID), 'webhook');
        } catch {
          ledger.violations.push('the telemetry webhook got a body that is not JSON');
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  static async start(t: { teardown(fn: () => unknown): void }, ledger: TelemetryLedger): Promise<TelemetryHook> {
    const hook = new TelemetryHook(ledger);
    await new Promise<void>((resolve) => hook.#server.listen(0, '127.0.0.1', resolve));
    hook.#port = (hook.#server.address() as AddressInfo).port;
    t.teardown(() => {
      hook.#server.closeAllConnections();
      return new Promise<void>((resolve) => hook.#server.close(() => resolve()));
    });
    return hook;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/telemetry`;
  }

  /** Ends the nodes' kept-alive webhook connections, so that their descriptors can be counted back to baseline. */
  dropConnections(): void {
    this.#server.closeAllConnections();
  }
}
