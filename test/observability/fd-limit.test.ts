import t from 'tap';
import { join } from 'node:path';
import { descriptorsNeeded, openFilesLimit } from '../../src/observability/fd-limit.js';
import { testConfig } from '../helpers/config.js';
import { startDaemon } from '../helpers/daemon.js';

// The daemon reads the real limit (no seam to inject a file): where there is none to read, the
// daemon-level tests are skipped, with the reason, rather than passing without a check.
const LIMIT = openFilesLimit();
const NO_LIMIT = LIMIT === undefined ? 'no finite soft open-file limit to read here (no /proc/self/limits, or unlimited)' : false;

t.test('reads the soft open-file limit from a /proc/self/limits text', async (t) => {
  const dir = t.testdir({
    limits: 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n',
    unlimited: 'Max open files            unlimited            unlimited            files     \n',
  });
  t.equal(openFilesLimit(join(dir, 'limits')), 1024);
  t.equal(openFilesLimit(join(dir, 'unlimited')), undefined);
  t.equal(openFilesLimit(join(dir, 'missing')), undefined);
});

t.test('the daemon warns at start when the limit cannot hold tcp.maxConnections', { skip: NO_LIMIT }, async (t) => {
  const limit = LIMIT!;
  const d = await startDaemon(t, testConfig(t, { tcp: { maxConnections: limit + 1 } }));
  t.match(d.logs.find('fd-limit-low')[0], { limit, maxConnections: limit + 1 });
});

t.test('descriptors needed: TCP sessions, held HTTP requests, webhook pools and a base', async (t) => {
  const plain = testConfig(t, { tcp: { maxConnections: 1000 } });
  t.same(descriptorsNeeded(plain), { total: 1100, tcp: 1000, http: 0, webhooks: 0, base: 100 }, 'HTTP off, no webhooks');
  const full = testConfig(t, {
    tcp: { maxConnections: 100_000 },
    http: { enabled: true, maxHeldRequests: 10_000 },
    central: { webhooks: { request: 'http://127.0.0.1:1/r', telemetry: 'http://127.0.0.1:1/t', connections: 64 } },
  });
  t.same(descriptorsNeeded(full), { total: 110_228, tcp: 100_000, http: 10_000, webhooks: 128, base: 100 }, 'HTTP on, two webhooks');
});

t.test('the daemon warns when held HTTP requests push the need past the limit, even with few TCP sessions', { skip: NO_LIMIT }, async (t) => {
  const limit = LIMIT!;
  const d = await startDaemon(t, testConfig(t, { tcp: { maxConnections: 10 }, http: { enabled: true, maxHeldRequests: limit } }));
  t.match(d.logs.find('fd-limit-low')[0], { limit, needed: { tcp: 10, http: limit } });
});

const BASE = descriptorsNeeded(testConfig(t)).base;
const BELOW_BASE = LIMIT !== undefined && LIMIT <= BASE + 1 ? `the soft limit (${LIMIT}) is below even the daemon's base need (${BASE})` : false;

t.test('no warning when the limit holds what the config allows', { skip: NO_LIMIT || BELOW_BASE }, async (t) => {
  const limit = LIMIT!;
  const base = BASE;
  const d = await startDaemon(t, testConfig(t, { tcp: { maxConnections: limit - base } }));
  t.same(d.logs.find('fd-limit-low'), [], `limit ${limit}, need exactly ${limit}: no fd-limit-low line`);
  const over = await startDaemon(t, testConfig(t, { tcp: { maxConnections: limit - base + 1 } }));
  t.equal(over.logs.find('fd-limit-low').length, 1, 'one more connection allowed than fits: warned');
});
