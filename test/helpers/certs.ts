import { generateSelfSigned, type CertPair } from '../../src/tls/self-signed.js';

let cached: Promise<CertPair> | undefined;

/** One self-signed localhost/127.0.0.1 certificate per test process (generation is slow). */
export function testCerts(): Promise<CertPair> {
  cached ??= generateSelfSigned({ commonName: 'localhost', days: 2 });
  return cached;
}
