#!/usr/bin/env node
// `npm run build:sea`: the daemon as one Node 20 single executable application (SEA), dist/sea/iotsocket.
// https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html
//
//  1. esbuild bundles src/cli/sea-entry.ts and every dependency into one CommonJS file: a Node 20
//     SEA runs a single CommonJS script whose require() sees only built-in modules.
//  2. `node --experimental-sea-config` turns that script into a blob.
//  3. postject injects the blob into a copy of the Node binary running this script, so the result
//     targets the build machine's OS and CPU architecture.
// Written in plain JavaScript so that it runs on Node 20 without a TypeScript loader.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { inject } from 'postject';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'dist/sea');
const BUNDLE = join(OUT_DIR, 'iotsocket.cjs');
const BLOB = join(OUT_DIR, 'iotsocket.blob');
const SEA_CONFIG = join(OUT_DIR, 'sea-config.json');
const SEA_BINARY = join(OUT_DIR, process.platform === 'win32' ? 'iotsocket.exe' : 'iotsocket');
// The fuse Node's binary carries for postject (from the Node 20 SEA documentation).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

async function bundle() {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const result = await build({
    entryPoints: [join(ROOT, 'src/cli/sea-entry.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // No package.json beside the binary: the version is baked in (see packageVersion() in src/cli/io.ts).
    define: {
      IOTSOCKET_BUNDLED_VERSION: JSON.stringify(version),
      // CommonJS has no import.meta; the banner gives the bundle's own URL instead.
      'import.meta.url': '__iotsocket_bundle_url',
    },
    banner: { js: 'var __iotsocket_bundle_url = require("node:url").pathToFileURL(__filename).href;' },
    // pino's transports run in worker threads loaded from files on disk, which a SEA does not have.
    // The daemon logs to a destination stream and starts no transport; the stub says so if one is
    // ever configured (and keeps thread-stream's worker code out of the bundle).
    alias: { 'thread-stream': './scripts/sea/no-thread-stream.cjs' },
    absWorkingDir: ROOT,
    logLevel: 'warning',
    metafile: true,
    legalComments: 'none',
  });
  const inputs = Object.keys(result.metafile.inputs);
  const workerFiles = inputs.filter((f) => /thread-stream\/|pino\/lib\/worker/.test(f));
  if (workerFiles.length > 0) throw new Error(`build:sea: the bundle includes worker-thread files a SEA cannot load: ${workerFiles.join(', ')}`);
  return { modules: inputs.length, bytes: statSync(BUNDLE).size };
}

function makeBlob() {
  writeFileSync(SEA_CONFIG, `${JSON.stringify({
    main: relative(OUT_DIR, BUNDLE),
    output: relative(OUT_DIR, BLOB),
    // The CLI's own output is what a sysadmin reads: no "experimental feature" line on every run.
    disableExperimentalSEAWarning: true,
    // No V8 code cache: it saves about 60 ms of CPU per start, but any V8 flag in NODE_OPTIONS
    // (e.g. --max-old-space-size on a small gateway) rejects it, with a warning on every run.
    useCodeCache: false,
  }, null, 2)}\n`);
  // Its one line of success goes to stderr; a failure's message is in the thrown error.
  execFileSync(process.execPath, ['--experimental-sea-config', relative(OUT_DIR, SEA_CONFIG)], { cwd: OUT_DIR, stdio: 'pipe' });
}

async function injectBlob() {
  const tmp = `${SEA_BINARY}.tmp`;
  rmSync(tmp, { force: true });
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  if (process.platform === 'darwin') execFileSync('codesign', ['--remove-signature', tmp]);
  // LIEF (inside postject) warns "Can't find string offset for section name '.note.100'" for the
  // notes in Node's ELF binary; the injection is sound (the binary is run right after by the test).
  const warn = console.warn;
  console.warn = (...args) => { if (!/Can't find string offset for section name/.test(String(args[0]))) warn(...args); };
  try {
    await inject(tmp, 'NODE_SEA_BLOB', readFileSync(BLOB), {
      sentinelFuse: SEA_FUSE,
      ...(process.platform === 'darwin' ? { machoSegmentName: 'NODE_SEA' } : {}),
    });
  } finally {
    console.warn = warn;
  }
  if (process.platform === 'darwin') execFileSync('codesign', ['--sign', '-', tmp]);
  // Renamed into place last: an interrupted build never leaves a half-written binary behind.
  renameSync(tmp, SEA_BINARY);
}

const started = performance.now();
try {
  const seconds = (from, to = performance.now()) => ((to - from) / 1000).toFixed(1);
  mkdirSync(OUT_DIR, { recursive: true });
  const b = await bundle();
  const bundled = performance.now();
  makeBlob();
  const blobbed = performance.now();
  await injectBlob();
  console.log(`build:sea: ${relative(ROOT, SEA_BINARY)}, ${mb(statSync(SEA_BINARY).size)}, for ${process.platform}-${process.arch} (Node ${process.version}), in ${seconds(started)} s`
    + ` (bundle of ${b.modules} modules, ${mb(b.bytes)}: ${seconds(started, bundled)} s; blob ${seconds(bundled, blobbed)} s; inject ${seconds(blobbed)} s)`);
} catch (err) {
  // esbuild has already printed its errors with their file and line; this says which step failed.
  console.error(`build:sea: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
