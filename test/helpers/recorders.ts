import type { Test } from 'tap';
import { ObjectClient, ascii } from '../../src/client/index.js';
import type { Transmission } from '../../src/protocol/index.js';

/** Pushes every transmission a raw client receives onto `into`, as they come, until its connection ends. */
export function collect(c: { next(ms?: number): Promise<Transmission> }, into: Transmission[]): void {
  void (async () => {
    for (;;) {
      try { into.push(await c.next(60_000)); } catch { return; }
    }
  })();
}

/** An object connected at `port` that answers every request `echo <payload>` and records the payloads it was handed (`answered`). */
export async function echoObject(t: Test, port: number, dev: { uid: string; key: Buffer | string }): Promise<{ obj: ObjectClient; answered: string[] }> {
  const answered: string[] = [];
  const obj = new ObjectClient({ host: '127.0.0.1', port, uid: dev.uid, key: dev.key, reconnect: false, handler: (req) => {
    answered.push(req.payload.data.toString());
    return { code: 0, payload: ascii(`echo ${req.payload.data.toString()}`) };
  } });
  t.teardown(() => obj.destroy());
  await obj.connect();
  return { obj, answered };
}
