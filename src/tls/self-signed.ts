import selfsigned from 'selfsigned';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

/**
 * A self-signed EC P-256 certificate for loopback names. Used for the development
 * certificate written on first start and by tests; never for production.
 */
export async function generateSelfSigned(opts: { commonName?: string; days?: number } = {}): Promise<CertPair> {
  const cn = opts.commonName ?? 'localhost';
  const days = opts.days ?? 825;
  const notAfterDate = new Date(Date.now() + days * 86_400_000);
  const result = await selfsigned.generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: cn },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: result.cert, key: result.private };
}
