import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/** What `npm run build:sea` writes (scripts/build-sea.mjs). */
export const SEA_BINARY = join(ROOT, 'dist/sea', process.platform === 'win32' ? 'iotsocket.exe' : 'iotsocket');

function newestInput(): number {
  let newest = 0;
  for (const dir of ['src', 'scripts']) {
    for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) newest = Math.max(newest, statSync(join(ROOT, dir, f)).mtimeMs);
  }
  for (const f of ['package.json', 'package-lock.json']) newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return newest;
}

/**
 * Runs `npm run build:sea` unless dist/sea/iotsocket is newer than every source, the build script
 * and the lock file. A failed build throws with its output: the test fails, never skips.
 * Resolves with the build's seconds, or undefined when the binary was up to date.
 */
export function ensureSeaBuilt(): number | undefined {
  let builtAt = 0;
  try {
    builtAt = statSync(SEA_BINARY).mtimeMs;
  } catch {
    // not built yet
  }
  if (builtAt >= newestInput()) return undefined;
  const started = performance.now();
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-sea.mjs')], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  } catch (err) {
    const e = err as { status?: number | null; signal?: string | null; stdout?: Buffer; stderr?: Buffer; message: string };
    const output = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim();
    throw new Error(`npm run build:sea failed (exit ${e.status ?? e.signal ?? 'unknown'}):\n${output || e.message}`);
  }
  return (performance.now() - started) / 1000;
}
