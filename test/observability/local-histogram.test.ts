import { Histogram, Registry, type RegistryContentType } from 'prom-client';
import t from 'tap';
import { LocalHistogram } from '../../src/observability/local-histogram.js';
import { REQUEST_DURATION_BUCKETS } from '../../src/observability/metrics.js';

/** The same observations into prom-client's Histogram and into a LocalHistogram, each in its own registry. */
function twins() {
  const theirs = new Registry<RegistryContentType>();
  const ours = new Registry<RegistryContentType>();
  const config = { name: 'iotsocket_request_duration_seconds', help: 'Time from forwarding a request to its response' };
  const ph = new Histogram({ ...config, labelNames: ['direction'] as const, buckets: [...REQUEST_DURATION_BUCKETS], registers: [theirs as unknown as Registry] });
  const lh = new LocalHistogram({ ...config, labelName: 'direction', buckets: REQUEST_DURATION_BUCKETS, registers: [ours as unknown as Registry] });
  const observe = (dir: string, v: number) => { ph.labels(dir).observe(v); lh.observe(dir, v); };
  return { theirs, ours, observe, lh };
}

t.test('exports exactly what prom-client\'s histogram exports, text and JSON', async (t) => {
  const { theirs, ours, observe } = twins();
  t.equal(await ours.metrics(), await theirs.metrics(), 'nothing observed: the same (no series)');
  // Values on bounds, between them, below the first, above the last, zero; odd sums.
  const values = [0, 0.0005, 0.0004, 0.00051, 0.001, 0.3, 1, 2.5, 29.9, 30, 31, 1e6, 0.1 + 0.2, 1 / 3];
  for (const v of values) observe('down', v);
  for (let i = 0; i < 1000; i++) observe(i % 3 ? 'up' : 'down', ((i * 7919) % 5000) / 1000);
  t.equal(await ours.metrics(), await theirs.metrics(), 'text exposition');
  t.same(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON(), 'JSON');
  theirs.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  ours.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  t.equal(await ours.metrics(), await theirs.metrics(), 'OpenMetrics exposition');
});

t.test('reset empties it, as prom-client\'s; a value that is not a number is refused, not counted', async (t) => {
  const { theirs, ours, observe, lh } = twins();
  observe('down', 0.01);
  ours.resetMetrics();
  theirs.resetMetrics();
  t.equal(await ours.metrics(), await theirs.metrics());
  t.throws(() => lh.observe('down', NaN), /not a valid number/);
  t.throws(() => lh.observe('down', Infinity), /not a valid number/);
  t.notMatch(await ours.metrics(), /_count/, 'nothing counted');
});
