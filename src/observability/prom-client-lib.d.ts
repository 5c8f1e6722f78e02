// Types of the prom-client files src/observability/prom.ts imports (prom-client types only its index).
declare module 'prom-client/lib/registry.js' { const Registry: typeof import('prom-client').Registry; export default Registry; }
declare module 'prom-client/lib/counter.js' { const Counter: typeof import('prom-client').Counter; export default Counter; }
declare module 'prom-client/lib/gauge.js' { const Gauge: typeof import('prom-client').Gauge; export default Gauge; }
declare module 'prom-client/lib/histogram.js' { const Histogram: typeof import('prom-client').Histogram; export default Histogram; }
declare module 'prom-client/lib/metrics/*' {
  /** One of collectDefaultMetrics's metrics: registers its gauges or counters on `registry`. */
  const metric: (registry: import('prom-client').Registry, config: { prefix?: string; eventLoopMonitoringPrecision?: number }) => void;
  export default metric;
}
