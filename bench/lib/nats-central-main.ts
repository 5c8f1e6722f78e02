/**
 * Load child: the central of the NATS peer rounds, rr-central-main's loop over NATS core
 * request/reply: each request is published to devices.<i>.req with the reply subject
 * _INBOX.bench.<k> (k = device × inFlight + slot, as the `nats` client's own request mux
 * does with its tokens), answers arrive on one wildcard subscription. The `nats` client in
 * callback mode (no async iterator, no promise or timer per request); it coalesces a tick's
 * publishes into one write.
 */
import { connect, type Msg as NatsMsg, type NatsError } from 'nats';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import type { CentralArgs } from './rr-central-main.js';
import { DRAIN_MS, RrLoop } from './rr-loop.js';

const a = childPayload<CentralArgs>();
const data = Buffer.alloc(a.payloadBytes, 0x5a);
const subjects = Array.from({ length: a.objects }, (_, i) => `devices.${i}.req`);
const replies = Array.from({ length: a.objects * a.inFlight }, (_, k) => `_INBOX.bench.${k}`);
const replyIndex = new Map(replies.map((r, k) => [r, k]));

async function main(): Promise<void> {
  lifeline(a.warmupMs + a.measureMs + DRAIN_MS + 60_000);
  const nc = await connect({ servers: `${a.host}:${a.port}`, name: 'bench-central', reconnect: false, noEcho: true });
  let loop: RrLoop | undefined;
  nc.subscribe('_INBOX.bench.*', {
    callback: (err: NatsError | null, m: NatsMsg) => {
      if (err) return failChild(err);
      const k = replyIndex.get(m.subject)!;
      const obj = Math.floor(k / a.inFlight);
      // No read boundary is visible through the client: one clock reading per answer.
      loop!.now = performance.now();
      loop!.answered(obj, k - obj * a.inFlight, m.data.length === a.payloadBytes);
      loop!.endOfRead();
    },
  });
  await nc.flush();
  toParent({ type: 'ready', pid: process.pid });
  await new Promise<void>((resolve) => process.on('message', (m: Msg) => m.type === 'go' && resolve()));
  loop = new RrLoop(a, (obj, slot) => nc.publish(subjects[obj]!, data, { reply: replies[obj * a.inFlight + slot]! }), () => {});
  const result = await loop.run();
  await nc.close();
  toParent(result as unknown as Msg);
  setTimeout(() => {
    process.disconnect?.();
    process.exit(0);
  }, 200);
}

main().catch(failChild);
