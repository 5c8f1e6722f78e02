import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { createConcentrator } from '../../src/daemon.js';
import { TokenRegistry, tokenKey } from '../../src/registry/token-registry.js';
import { MemoryTokenStore } from '../../src/registry/token-store.js';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { writeFileSync } from 'node:fs';
import { ToT } from '../../src/protocol/index.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';

const dev = device('dev-1');

t.test('in memory (the default), tokens die with the node: close() clears them', async (t) => {
  const clock = new ManualClock();
  const d = await startDaemon(t, testConfig(t, { udp: { enabled: true } }), [dev], { clock });
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());
  const token = (await obj.nextOf(ToT.TOKEN)).token;
  const { tokens } = d.daemon.internals;
  t.ok(tokens.peek(tokenKey(token), clock.now()), 'valid while the node runs');
  await d.daemon.close();
  t.equal(tokens.peek(tokenKey(token), clock.now()), undefined, 'gone once it stopped');
  t.equal(await tokens.size, 0);
});

t.test('a given store is the daemon\'s (internals.tokens); one whose close never answers does not hold up the stop', async (t) => {
  class Stuck extends MemoryTokenStore {
    closes = 0;
    override close(): Promise<void> {
      this.closes++;
      return new Promise(() => {}); // a Redis that is away
    }
  }
  const store = new Stuck(new TokenRegistry(new ManualClock(), 100));
  const config = testConfig(t, { udp: { enabled: true } });
  writeFileSync(config.acl.file, formatAclJson([dev]));
  const daemon = createConcentrator(config, { tokenStore: store });
  await daemon.start();
  t.equal(daemon.internals.tokens, store);
  const started = performance.now();
  await daemon.close();
  const took = performance.now() - started;
  t.equal(store.closes, 1, 'the store is closed');
  t.ok(took < 4_000, `stopped in ${took.toFixed(0)} ms (at most the 2 s grace)`);
});
