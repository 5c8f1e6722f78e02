import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCode, IotsError } from '../errors.js';
import type { RawTls } from './schema.js';

/**
 * First start on a fresh clone: create the files the default config points at but that are
 * never committed (the central auth key, a development TLS certificate). `planFirstStart` only
 * looks; `prepareFirstStart` writes. `start` runs this before the final config load, and
 * `check-config` only plans, reporting each step as a warning.
 */

/** The part of a validated, path-resolved config that first start needs (paths absolute). */
export interface FirstStartInput {
  readonly central: { readonly authKeyFile?: string };
  readonly tcp: { readonly tls?: RawTls };
  readonly http: { readonly tls?: RawTls };
}

export type FirstStartStep =
  | { readonly kind: 'auth-key'; readonly keyPath: 'central.authKeyFile'; readonly file: string }
  | { readonly kind: 'dev-cert'; readonly keyPath: 'tcp.tls' | 'http.tls'; readonly certFile: string; readonly keyFile: string };

export interface FirstStartLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What first start would write. Reads only file existence. */
export function planFirstStart(input: FirstStartInput): FirstStartStep[] {
  const steps: FirstStartStep[] = [];
  const keyFile = input.central.authKeyFile;
  if (keyFile !== undefined && !existsSync(keyFile)) steps.push({ kind: 'auth-key', keyPath: 'central.authKeyFile', file: keyFile });
  const seen = new Set<string>();
  for (const [keyPath, tls] of [['tcp.tls', input.tcp.tls], ['http.tls', input.http.tls]] as const) {
    if (!tls?.generateDevCert || seen.has(tls.cert)) continue;
    // Only when both are missing: never overwrite half of an operator's pair.
    if (existsSync(tls.cert) || existsSync(tls.key)) continue;
    seen.add(tls.cert);
    steps.push({ kind: 'dev-cert', keyPath, certFile: tls.cert, keyFile: tls.key });
  }
  return steps;
}

async function writeNew(file: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // 'wx': if another process created it meanwhile, fail rather than replace it.
  await writeFile(file, content, { mode, flag: 'wx' });
}

async function runStep(step: FirstStartStep, log: FirstStartLog): Promise<void> {
  if (step.kind === 'auth-key') {
    await writeNew(step.file, `${randomBytes(16).toString('hex').toUpperCase()}\n`, 0o600);
    log.info(
      { file: step.file },
      `generated a new central auth key in ${step.file}; give it to the central (HTTP Bearer token and TCP HMAC key)`,
    );
    return;
  }
  // Loaded here only: every later start would carry selfsigned and its forge (~6 MiB of RSS, issue 14).
  const { generateSelfSigned } = await import('../tls/self-signed.js');
  const pair = await generateSelfSigned();
  await writeNew(step.keyFile, pair.key, 0o600);
  await writeNew(step.certFile, pair.cert, 0o644);
  log.warn(
    { certFile: step.certFile, keyFile: step.keyFile, for: step.keyPath },
    `generated a self-signed DEVELOPMENT certificate in ${step.certFile}: clients cannot verify it; replace it for production`,
  );
}

/** Writes whatever `planFirstStart` finds missing; returns the steps taken (none on later starts). */
export async function prepareFirstStart(input: FirstStartInput, log: FirstStartLog): Promise<FirstStartStep[]> {
  const steps = planFirstStart(input);
  for (const step of steps) {
    try {
      await runStep(step, log);
    } catch (err) {
      const file = step.kind === 'auth-key' ? step.file : step.certFile;
      throw new IotsError(ErrorCode.BOOTSTRAP, `first start: cannot write ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return steps;
}
