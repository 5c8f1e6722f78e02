'use strict';
// Stands in for thread-stream in the single executable (scripts/build-sea.mjs aliases it here).
// pino starts a worker thread from a file on disk for each transport (pino.transport(), a
// `transport` option, pino-pretty as a target); a SEA has no such files. The daemon logs to a
// destination stream, so this is never constructed; if a transport is ever configured, the binary
// says so at once instead of failing inside a worker.
class ThreadStream {
  constructor() {
    throw new Error('pino transports (worker threads) are not available in the iotsocket single binary; log to stdout instead');
  }
}
module.exports = ThreadStream;
