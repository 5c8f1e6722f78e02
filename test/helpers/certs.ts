import { generateSelfSigned, type CertPair } from '../../src/tls/self-signed.js';

export type { CertPair };

let cached: Promise<CertPair> | undefined;

/** One self-signed localhost/127.0.0.1 certificate per test process (generation is slow). */
export function testCerts(): Promise<CertPair> {
  cached ??= generateSelfSigned({ commonName: 'localhost', days: 2 });
  return cached;
}

/** A self-signed certificate naming only `ips` (and no DNS name): to check the SDK verifies the IP it dialled. */
export async function certForIps(ips: readonly string[]): Promise<CertPair> {
  const selfsigned = (await import('selfsigned')).default;
  const r = await selfsigned.generate([{ name: 'commonName', value: ips[0]! }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 2 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: ips.map((ip) => ({ type: 7, ip })) },
    ],
  });
  return { cert: r.cert, key: r.private };
}
