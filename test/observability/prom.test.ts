import t from 'tap';
import * as promClient from 'prom-client';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from '../../src/observability/prom.js';

// src/observability/prom.ts loads prom-client's classes from its files, not its index (which
// loads @opentelemetry/api), and builds the default metrics itself: the same classes, and the
// same metrics as prom-client's collectDefaultMetrics, in the same order.

t.test('the classes are prom-client\'s own', async (t) => {
  t.equal(Registry, promClient.Registry);
  t.equal(Counter, promClient.Counter);
  t.equal(Gauge, promClient.Gauge);
  t.equal(Histogram, promClient.Histogram);
});

t.test('the default metrics: prom-client\'s names, help, types and order', async (t) => {
  const theirs = new promClient.Registry();
  promClient.collectDefaultMetrics({ register: theirs, prefix: 'iotsocket_' });
  const ours = new Registry();
  collectDefaultMetrics({ register: ours, prefix: 'iotsocket_' });
  const shape = async (r: promClient.Registry) => (await r.getMetricsAsJSON()).map((m) => ({ name: m.name, help: m.help, type: m.type, aggregator: m.aggregator, labels: [...new Set(m.values.map((v) => Object.keys(v.labels).sort().join(',')))] }));
  const a = await shape(theirs);
  t.ok(a.length >= 20, `prom-client has ${a.length} default metrics`);
  t.same(await shape(ours), a);
  theirs.clear();
  ours.clear();
});

t.test('the process CPU counters advance by process.cpuUsage() between scrapes', async (t) => {
  const reg = new Registry();
  const before = process.cpuUsage();
  collectDefaultMetrics({ register: reg, prefix: 'x_' });
  const created = process.cpuUsage();
  const value = async (name: string) => Math.round((await reg.getSingleMetric(name)!.get()).values[0]!.value * 1e6);
  // 20 ms of CPU (bounded in wall time: a loaded machine may deschedule the test).
  for (const end = Date.now() + 5_000; process.cpuUsage().user - created.user < 20_000 && Date.now() < end;);
  const spun = process.cpuUsage();
  const user = await value('x_process_cpu_user_seconds_total'); // collects all three
  const after = process.cpuUsage();
  const system = await value('x_process_cpu_system_seconds_total');
  const total = await value('x_process_cpu_seconds_total');
  t.ok(user >= spun.user - created.user && user <= after.user - before.user, `user ${user} µs`);
  t.ok(system >= spun.system - created.system && system <= after.system - before.system, `system ${system} µs`);
  t.equal(total, user + system, 'total is user + system');
  reg.clear();
});
