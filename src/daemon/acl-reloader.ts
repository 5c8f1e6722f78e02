import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { AclService } from '../registry/acl-service.js';

/**
 * Re-reads the ACL's store (the file watcher, SIGHUP). True when something changed. A bad file
 * is counted and logged and the previous ACL stays; SIGHUP ('reload') also gets the error.
 */
export function aclReloader(acl: AclService, metrics: Metrics, log: Logger): (source: 'watch' | 'reload') => Promise<boolean> {
  return async (source) => {
    try {
      const next = await acl.load();
      if (next) {
        metrics.aclUpdates.labels(source, 'applied').inc();
        log.info({ event: 'acl-reloaded', source, entries: next.size }, 'ACL file reloaded');
      }
      return next !== undefined;
    } catch (err) {
      metrics.aclUpdates.labels(source, 'rejected').inc();
      log.error({ event: 'acl-reload-failed', source, err: (err as Error).message }, 'ACL file not applied; the previous ACL stays');
      if (source !== 'watch') throw err;
      return false;
    }
  };
}
