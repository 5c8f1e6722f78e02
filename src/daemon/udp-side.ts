import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { TokenStore } from '../registry/token-store.js';
import type { Router } from '../routing/router.js';
import { TelemetryIntake } from '../routing/telemetry-intake.js';
import { UdpServer } from '../servers/udp-server.js';

/** PROTOCOL §7: datagrams go through the intake; drops are counted and logged at debug, never answered. */
export function createUdpSide(config: Config, deps: { tokens: TokenStore; router: Router; clock: Clock; metrics: Metrics; log: Logger }): UdpServer {
  const { metrics, log } = deps;
  const intake = new TelemetryIntake(deps.tokens, deps.router, deps.clock, {
    maxDatagramBytes: config.udp.maxDatagramBytes,
    maxPerSecPerToken: config.udp.maxDatagramsPerSecPerToken,
  }, {
    accepted: (_uid, via) => metrics.countTelemetry('accepted', via),
    dropped: (reason, peer, uid) => {
      metrics.countTelemetry('dropped', reason);
      // A flood of bad datagrams must not cost a log object each while debug is off.
      if (log.isLevelEnabled('debug')) log.debug({ event: 'telemetry-dropped', reason, peer: `${peer.address}:${peer.port}`, uid }, 'telemetry datagram dropped');
    },
  });
  return new UdpServer((msg, peer) => intake.receive(msg, peer), { recvBufferSize: config.udp.recvBufferBytes });
}
