import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isValidUid } from '../protocol/index.js';
import { parseAclJson, writeAclFileAtomic } from '../registry/acl-file.js';
import { checkAclFile } from '../registry/acl-check.js';
import { Acl, describeAclProblems } from '../registry/acl.js';
import { readConfigDraft } from '../config/load.js';
import { DEFAULT_CONFIG, ExitCode, printIssues, readConfigText, type CliIo } from './io.js';
import { parseKey } from './args.js';

/**
 * Edits the ACL file in place (atomic write). A running daemon watches the file and applies
 * the change at once (or on SIGHUP); it rejects the whole file if anything in it is wrong, so
 * `add` checks the result against the daemon's config (its groups) with the daemon's own rule
 * (checkAclText) before writing. Over HTTP only `list` exists: the API never returns keys.
 */

interface FileOptions {
  /** The ACL file; default: the config's `acl.file`. */
  file?: string;
  config: string;
}

/** The config's groups and ACL file path, or undefined after printing why not. */
async function readDaemonConfig(o: FileOptions, io: CliIo, cmd: string): Promise<{ groups: ReadonlySet<string>; aclFile: string } | undefined> {
  const text = await readConfigText(o.config, io);
  if (text === undefined) {
    io.err(`iotsocket acl ${cmd}: the config (-c) is needed to know its groups and ACL file\n`);
    return undefined;
  }
  const read = readConfigDraft(text, { file: o.config, baseDir: io.cwd, env: io.env });
  if (!read.draft) {
    printIssues(io, read.errors, o.config);
    return undefined;
  }
  if (read.draft.raw.cluster !== undefined && (cmd === 'add' || cmd === 'remove')) {
    // A cluster reads its ACL from Redis: an edit of the file alone would silently change nothing.
    io.err(`iotsocket acl ${cmd}: note: ${o.config} has a cluster key: running nodes read the ACL from Redis, and this file only seeds an empty cluster; change a running cluster with POST /acl at any node\n`);
  }
  return { groups: new Set(Object.keys(read.draft.raw.groups)), aclFile: read.draft.raw.acl.file };
}

/** -f when given, else the config's acl.file; undefined after printing why not. */
async function aclFilePath(o: FileOptions, io: CliIo, cmd: string): Promise<string | undefined> {
  if (o.file !== undefined) return resolve(io.cwd, o.file);
  return (await readDaemonConfig(o, io, cmd))?.aclFile;
}

/** The entries of an existing ACL file; a missing file is an error here (a mistyped path is not an empty ACL). */
async function load(file: string, io: CliIo, cmd: string) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    io.err(`iotsocket acl ${cmd}: ACL file ${file}: ${missing ? 'no such file' : (err as Error).message}\n`);
    return undefined;
  }
  const read = parseAclJson(text);
  if ('error' in read) {
    io.err(`iotsocket acl ${cmd}: ACL file ${file}: ${read.error}\n`);
    return undefined;
  }
  return read.entries;
}

/** `acl list` against a running daemon's admin API (GET /acl, Bearer), instead of the file. */
async function listOverHttp(o: { url: string; key: string }, io: CliIo): Promise<number> {
  try {
    const { request: httpRequest } = await import('undici'); // not loaded by `start` (issue 14)
    const res = await httpRequest(new URL('/acl', o.url.endsWith('/') ? o.url : `${o.url}/`), { method: 'GET', headers: { authorization: `Bearer ${o.key}` } });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      io.err(`iotsocket acl list: HTTP ${res.statusCode}: ${text}\n`);
      return ExitCode.RUNTIME;
    }
    for (const e of JSON.parse(text) as unknown[]) io.out(`${JSON.stringify(e)}\n`);
    return ExitCode.OK;
  } catch (err) {
    io.err(`iotsocket acl list: ${(err as Error).message}\n`);
    return ExitCode.RUNTIME;
  }
}

export async function runAclList(o: FileOptions & { url?: string; key?: string }, io: CliIo): Promise<number> {
  if (o.url) {
    if (!o.key) {
      io.err('iotsocket acl list: --url needs --key (the central key)\n');
      return ExitCode.USAGE;
    }
    return listOverHttp({ url: o.url, key: o.key }, io);
  }
  const file = await aclFilePath(o, io, 'list');
  const entries = file === undefined ? undefined : await load(file, io, 'list');
  if (!entries) return ExitCode.CONFIG;
  for (const e of entries) io.out(`${JSON.stringify({ UID: e.uid, GroupName: e.group })}\n`);
  return ExitCode.OK;
}

export async function runAclAdd(o: FileOptions & { uid: string; group: string; key?: Buffer; replace?: boolean }, io: CliIo): Promise<number> {
  if (!isValidUid(o.uid) || o.uid === '') {
    io.err('iotsocket acl add: --uid must be 1 to 16 bytes of UTF-8\n');
    return ExitCode.USAGE;
  }
  const daemon = await readDaemonConfig(o, io, 'add');
  if (!daemon) return ExitCode.CONFIG;
  if (!daemon.groups.has(o.group)) {
    const known = [...daemon.groups].map((g) => JSON.stringify(g)).join(', ') || 'none';
    io.err(`iotsocket acl add: unknown group ${JSON.stringify(o.group)}: the groups in ${o.config} are ${known}\n`);
    return ExitCode.USAGE;
  }
  const file = o.file === undefined ? daemon.aclFile : resolve(io.cwd, o.file);
  // A missing file is created (first device before first start); a broken one is never overwritten.
  const current = await checkAclFile(file, daemon.groups, 'empty');
  if ('error' in current) {
    io.err(`iotsocket acl add: ${current.error}\nfix the file first; nothing written\n`);
    return ExitCode.CONFIG;
  }
  const entries = current.acl.entries();
  if (!o.replace && entries.some((e) => e.uid === o.uid)) {
    io.err(`iotsocket acl add: UID ${JSON.stringify(o.uid)} is already in ${file}; --replace gives it a new key and group (its session ends)\n`);
    return ExitCode.USAGE;
  }
  const key = o.key ?? randomBytes(16);
  const next = entries.filter((e) => e.uid !== o.uid).concat({ uid: o.uid, group: o.group, key });
  const verdict = Acl.from(next, daemon.groups); // the daemon's own rule, so the daemon accepts what is written
  if (Array.isArray(verdict)) {
    io.err(`iotsocket acl add: ACL file ${file}: ${describeAclProblems(verdict)}; nothing written\n`);
    return ExitCode.USAGE;
  }
  await writeAclFileAtomic(file, next);
  io.out(`${JSON.stringify({ UID: o.uid, GroupName: o.group, AuthKey: key.toString('hex').toUpperCase() })}\n`);
  return ExitCode.OK;
}

export async function runAclRemove(o: FileOptions & { uid: string }, io: CliIo): Promise<number> {
  const file = await aclFilePath(o, io, 'remove');
  const entries = file === undefined ? undefined : await load(file, io, 'remove');
  if (!entries) return ExitCode.CONFIG;
  const next = entries.filter((e) => e.uid !== o.uid);
  if (next.length === entries.length) {
    io.err(`iotsocket acl remove: no UID ${JSON.stringify(o.uid)} in ${file}\n`);
    return ExitCode.USAGE;
  }
  await writeAclFileAtomic(file!, next);
  return ExitCode.OK;
}

export function registerAcl(program: Command, io: CliIo, done: (code: number) => void): void {
  const acl = program.command('acl').description('list or edit the ACL file (a running daemon picks changes up)');
  const file = ['-f, --file <path>', "the ACL file (default: the config's acl.file)"] as const;
  const config = ['-c, --config <file>', "the daemon's config: its groups and acl.file", DEFAULT_CONFIG] as const;
  acl.command('list').description('print UID and group of each entry (never keys), from the file or a running daemon').option(...file).option(...config)
    .option('--url <url>', "a running daemon's HTTP or admin base URL (GET /acl) instead of the file")
    .option('--key <hex>', 'with --url: the central key (Bearer)')
    .action(async (o: FileOptions & { url?: string; key?: string }) => done(await runAclList(o, io)));
  acl.command('add').description("add an entry; prints its key (generated unless --key). The group must be one of the config's").option(...file).option(...config)
    .requiredOption('--uid <uid>', 'object UID').requiredOption('--group <name>', 'group (one of the config\'s groups)')
    .option('--key <hex>', '32 hex digits (default: a random key)', parseKey)
    .option('--replace', 'the UID may exist already: give it this key and group (its live session ends)')
    .action(async (o: FileOptions & { uid: string; group: string; key?: Buffer; replace?: boolean }) => done(await runAclAdd(o, io)));
  acl.command('remove').description('remove an entry (its session ends at once)').option(...file).option(...config)
    .requiredOption('--uid <uid>', 'object UID')
    .action(async (o: FileOptions & { uid: string }) => done(await runAclRemove(o, io)));
}
