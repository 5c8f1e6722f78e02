import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { CENTRAL_UID, TOT_NAMES, ToT } from '../protocol/index.js';
import type { SessionEvents, SessionView } from '../registry/session-manager.js';

/** What the presence webhook is told (PROTOCOL §8). */
export type PresenceWord = 'started' | 'resumed' | 'kept' | 'ended' | 'expired' | 'refused';
/** The presence webhook as the session layer sees it. */
export type PresenceSink = (uid: string, event: PresenceWord, reason: string | undefined, at: Date) => void;

type LifecycleEvent = 'started' | 'resumed' | 'taken-over' | 'kept' | 'ended';

/**
 * What each session event becomes: a counter, a log line, and for objects a presence webhook.
 * Lifecycle lines (two or more per session) hold only a UID, kind, peer address, TLS flag and
 * reason, never key material: they skip redaction, which costs pino ~10 µs a line (bench/README.md).
 */
export function sessionEventsReporter(metrics: Metrics, log: Logger, presence: PresenceSink | undefined): SessionEvents {
  const lifecycleLog = log.child({}, { redact: [] });
  const report = (s: SessionView, event: LifecycleEvent, extra: { reason?: string; replayed?: number; from?: string; to?: string } = {}): void => {
    metrics.countSessionEvent(s.kind, event);
    lifecycleLog.info({ event: `session-${event}`, uid: s.uid, kind: s.kind, peer: s.peer, tls: s.tls, ...extra }, `session ${event}`);
    if (s.kind !== 'object' || !presence) return;
    // Presence keeps its vocabulary: for the central a takeover is the session going on (resumed), with the reason.
    const word: PresenceWord = event === 'ended' && extra.reason === 'expired' ? 'expired' : event === 'taken-over' ? 'resumed' : event;
    presence(s.uid, word, event === 'taken-over' ? 'taken-over' : extra.reason, new Date());
  };
  return {
    started: (s) => report(s, 'started'),
    resumed: (s, replayed) => report(s, 'resumed', { replayed }),
    takenOver: (s, from, to) => report(s, 'taken-over', { from, to }),
    kept: (s, reason) => report(s, 'kept', { reason }),
    ended: (s, reason) => report(s, 'ended', { reason }),
    dropped: (uid, why, type) => {
      // Telemetry (a buffered datagram too large for the resuming central) counts with the other datagrams.
      if (type === ToT.TELEMETRY) return metrics.countTelemetry('dropped', why);
      metrics.dropped.labels(why).inc();
      // The central's UID is empty: `to` says whose session was missing.
      log.warn({ event: 'dropped', uid, to: uid === CENTRAL_UID ? 'central' : 'object', tot: TOT_NAMES[type] ?? type, reason: why }, 'transmission dropped: no session, buffer full or too large for the peer');
    },
  };
}
