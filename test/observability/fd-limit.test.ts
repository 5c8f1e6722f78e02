import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { descriptorsNeeded, ephemeralPortCount, fdLimitAdvice, isLoopbackHost, openFilesLimit } from '../../src/observability/fd-limit.js';
import { parseConfig } from '../../src/config/load.js';
import { testConfig } from '../helpers/config.js';
import { startDaemon } from '../helpers/daemon.js';

// The daemon reads the real limit (no seam to inject a file): where there is none to read, the
// daemon-level tests are skipped, with the reason, rather than passing without a check.
const LIMIT = openFilesLimit();
const NO_LIMIT = LIMIT === undefined ? 'no finite soft open-file limit to read here (no /proc/self/limits, or unlimited)' : false;
// A loopback listener holds at most the host's ephemeral ports: above that the daemon rightly never warns.
const ABOVE_LOOPBACK = LIMIT !== undefined && LIMIT + 1 > ephemeralPortCount() ? 'the limit is above what a loopback listener can hold: no warning to see here' : false;

t.test('reads the soft open-file limit from a /proc/self/limits text', async (t) => {
  const dir = t.testdir({
    limits: 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n',
    unlimited: 'Max open files            unlimited            unlimited            files     \n',
  });
  t.equal(openFilesLimit(join(dir, 'limits')), 1024);
  t.equal(openFilesLimit(join(dir, 'unlimited')), undefined);
  t.equal(openFilesLimit(join(dir, 'missing')), undefined);
});

t.test('the daemon warns at start when the limit cannot hold tcp.maxConnections', { skip: NO_LIMIT || ABOVE_LOOPBACK }, async (t) => {
  const limit = LIMIT!;
  const d = await startDaemon(t, testConfig(t, { tcp: { maxConnections: limit + 1 } }));
  t.match(d.logs.find('fd-limit-low')[0], { limit, maxConnections: limit + 1, msg: /LimitNOFILE=\d+ in the systemd unit/ });
});

t.test('descriptors needed: TCP sessions, held HTTP requests, webhook pools and a base', async (t) => {
  const plain = testConfig(t, { tcp: { maxConnections: 1000 } });
  t.same(descriptorsNeeded(plain, 28_232), { total: 1100, tcp: 1000, http: 0, webhooks: 0, base: 100, loopbackCapped: [] }, 'HTTP off, no webhooks');
  const full = testConfig(t, {
    tcp: { host: '0.0.0.0', maxConnections: 100_000 },
    http: { enabled: true, host: '::', maxHeldRequests: 10_000 },
    central: { webhooks: { request: 'http://127.0.0.1:1/r', telemetry: 'http://127.0.0.1:1/t', connections: 64 } },
  });
  t.same(descriptorsNeeded(full, 28_232), { total: 110_228, tcp: 100_000, http: 10_000, webhooks: 128, base: 100, loopbackCapped: [] }, 'public listeners: the configured maxima');
});

t.test('a loopback listener counts at most the ephemeral ports its local clients can connect from', async (t) => {
  const local = testConfig(t, { tcp: { maxConnections: 100_000 }, http: { enabled: true, host: '::1', maxHeldRequests: 50_000 } });
  t.same(descriptorsNeeded(local, 28_232), { total: 56_564, tcp: 28_232, http: 28_232, webhooks: 0, base: 100, loopbackCapped: ['tcp', 'http'] });
  t.same(descriptorsNeeded(local, 1000).total, 2100, 'the port range read from the host');
  for (const h of ['127.0.0.1', '127.9.9.9', '::1', 'localhost', '::ffff:127.0.0.1']) t.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com']) t.notOk(isLoopbackHost(h), h);
  t.equal(ephemeralPortCount(join(t.testdir({ r: '32768\t60999\n' }), 'r')), 28_232);
  t.equal(ephemeralPortCount(join(t.testdir({ r: '1024 65535\n' }), 'r')), 64_512);
});

t.test('the shipped development config: no warning at 40 000 descriptors, and advice that says what to do below', async (t) => {
  // It listens on 127.0.0.1 only: 100 000 TCP sessions are allowed but not reachable there.
  const text = readFileSync(join(import.meta.dirname, '../../config/concentrator.yaml'), 'utf8');
  const { config, errors } = parseConfig(text, { baseDir: t.testdir({}), mode: 'check', env: { IOTSOCKET_CENTRAL__AUTHKEY: '00112233445566778899AABBCCDDEEFF' } });
  t.same(errors, []);
  const need = descriptorsNeeded(config!, 28_232);
  t.equal(need.total, 38_332, 'tcp 28 232 (loopback) + http 10 000 + 100');
  t.equal(fdLimitAdvice(40_000, need, 28_232), undefined, 'fits: no warning');
  t.equal(fdLimitAdvice(undefined, need, 28_232), undefined, 'unknown limit (not Linux): no warning');
  const advice = fdLimitAdvice(20_000, need, 28_232)!;
  t.match(advice, 'open-file limit 20000 is below the 38332 descriptors');
  t.match(advice, 'tcp on loopback: at most the 28232 ephemeral ports');
  t.match(advice, 'LimitNOFILE=39000 in the systemd unit');
  t.match(advice, 'docker run --ulimit nofile=39000');
  t.match(advice, '`ulimit -n 39000` as root');
});

t.test('the daemon warns when held HTTP requests push the need past the limit, even with few TCP sessions', { skip: NO_LIMIT }, async (t) => {
  const limit = LIMIT!;
  const d = await startDaemon(t, testConfig(t, { tcp: { maxConnections: 10 }, http: { enabled: true, maxHeldRequests: limit } }));
  t.match(d.logs.find('fd-limit-low')[0], { limit, needed: { tcp: 10, http: limit } });
});

const BASE = descriptorsNeeded(testConfig(t), ephemeralPortCount()).base;
const BELOW_BASE = LIMIT !== undefined && LIMIT <= BASE + 1 ? `the soft limit (${LIMIT}) is below even the daemon's base need (${BASE})` : false;

t.test('no warning when the limit holds what the config allows', { skip: NO_LIMIT || BELOW_BASE || ABOVE_LOOPBACK }, async (t) => {
  const limit = LIMIT!;
  const base = BASE;
  const d = await startDaemon(t, testConfig(t, { tcp: { maxConnections: limit - base } }));
  t.same(d.logs.find('fd-limit-low'), [], `limit ${limit}, need exactly ${limit}: no fd-limit-low line`);
  const over = await startDaemon(t, testConfig(t, { tcp: { maxConnections: limit - base + 1 } }));
  t.equal(over.logs.find('fd-limit-low').length, 1, 'one more connection allowed than fits: warned');
});
