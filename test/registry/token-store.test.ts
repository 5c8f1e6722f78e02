import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { TokenRegistry } from '../../src/registry/token-registry.js';
import { MemoryTokenStore } from '../../src/registry/token-store.js';
import { tokenStoreContract } from '../contracts/token-store.contract.js';

tokenStoreContract(t, async () => {
  const clock = new ManualClock();
  clock.advance(1_000); // lru-cache sees no expiry in entries set at clock time 0
  let registry: TokenRegistry | undefined;
  return {
    // One registry for the fleet; its bound is the first node's (the single node has one).
    node: async (_id, opts) => new MemoryTokenStore((registry ??= new TokenRegistry(clock, opts?.max ?? 10_000))),
    now: () => clock.now(),
    elapse: async (ms) => { clock.advance(ms); },
  };
});
