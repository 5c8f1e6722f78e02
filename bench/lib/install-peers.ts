/**
 * `npm run bench -- --install-peers`: installs the peers scenario's brokers from Debian's
 * packages when run as root; otherwise prints the command to run.
 */
import { spawnSync } from 'node:child_process';
import { INSTALL_PEERS, PEER_PACKAGES } from './peer-brokers.js';

/** True when the packages are installed (or already were). */
export function installPeers(): boolean {
  if (process.getuid?.() !== 0) {
    process.stderr.write(`--install-peers needs root; run: sudo ${INSTALL_PEERS}\n`);
    return false;
  }
  process.stderr.write(`# ${INSTALL_PEERS}\n`);
  const r = spawnSync('apt-get', ['install', '-y', ...PEER_PACKAGES], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status === 0) return true;
  process.stderr.write(`apt-get install failed (${r.error?.message ?? `exit ${r.status}`}); if the package lists are missing, run apt-get update first\n`);
  return false;
}
