import type * as PromClient from 'prom-client';
import RegistryClass from 'prom-client/lib/registry.js';
import CounterClass from 'prom-client/lib/counter.js';
import GaugeClass from 'prom-client/lib/gauge.js';
import HistogramClass from 'prom-client/lib/histogram.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import version from 'prom-client/lib/metrics/version.js';
import gc from 'prom-client/lib/metrics/gc.js';

/**
 * The parts of prom-client the daemon uses, imported from prom-client's own files rather than its
 * index (issue 14, RSS at start): the index also loads Summary (tdigest, bintrees), Pushgateway
 * (http, https), AggregatorRegistry (cluster) and the default metrics, whose process CPU metric
 * requires @opentelemetry/api at load for exemplars the daemon never enables (51 files, 0.6–1.6
 * MiB of the start's RSS). The same classes: a Registry made from the index (tests, a worker's
 * merge) is this Registry. The files' types: prom-client-lib.d.ts.
 */
export const Registry: typeof PromClient.Registry = RegistryClass;
export const Counter: typeof PromClient.Counter = CounterClass;
export const Gauge: typeof PromClient.Gauge = GaugeClass;
export const Histogram: typeof PromClient.Histogram = HistogramClass;
export type Registry = PromClient.Registry;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;

type DefaultMetric = (registry: Registry, config: { prefix: string; eventLoopMonitoringPrecision: number }) => void;

/**
 * prom-client's default metrics (`collectDefaultMetrics`), in its order and with its config,
 * its own process CPU metric replaced by `processCpuTotal` below.
 */
export function collectDefaultMetrics(opts: { register: Registry; prefix: string }): void {
  const config = { eventLoopMonitoringPrecision: 10, prefix: opts.prefix };
  const metrics: DefaultMetric[] = [
    processCpuTotal,
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    eventLoopLag,
    ...(typeof process.getActiveResourcesInfo === 'function' ? [processResources] : []),
    processHandles,
    processRequests,
    heapSizeAndUsed,
    heapSpacesSizeAndUsed,
    version,
    gc,
  ];
  for (const metric of metrics) metric(opts.register, config);
}

/**
 * prom-client 15's lib/metrics/processCpuTotal without exemplars (its only use of
 * @opentelemetry/api): the same three counters, names and help, advanced by process.cpuUsage()
 * since the last scrape when the first is collected.
 */
function processCpuTotal(registry: Registry, config: { prefix: string }): void {
  let last = process.cpuUsage();
  const user = new Counter({
    name: `${config.prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    // The one metric's `collect` sets all three, as prom-client's does.
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({ name: `${config.prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers: [registry] });
  const total = new Counter({ name: `${config.prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers: [registry] });
}
