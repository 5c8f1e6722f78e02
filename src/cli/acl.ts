import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { request as httpRequest } from 'undici';
import { isValidUid } from '../protocol/index.js';
import { readAclFile, writeAclFileAtomic } from '../registry/acl-file.js';
import { ExitCode, type CliIo } from './io.js';
import { parseKey } from './args.js';

/**
 * Edits the ACL file in place (atomic write). A running daemon watches the file and applies
 * the change at once (or on SIGHUP); it rejects the whole file if a group is unknown.
 * Over HTTP only `list` exists: the API never returns keys, so it cannot rebuild an ACL.
 */
async function load(file: string, io: CliIo) {
  const read = await readAclFile(file);
  if ('error' in read) {
    io.err(`iotsocket acl: ${read.error}\n`);
    return undefined;
  }
  return read.entries;
}

/** `acl list` against a running daemon's admin API (GET /acl, Bearer), instead of the file. */
async function listOverHttp(o: { url: string; key: string }, io: CliIo): Promise<number> {
  try {
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

export async function runAclList(o: { file: string; url?: string; key?: string }, io: CliIo): Promise<number> {
  if (o.url) {
    if (!o.key) {
      io.err('iotsocket acl list: --url needs --key (the central key)\n');
      return ExitCode.CONFIG;
    }
    return listOverHttp({ url: o.url, key: o.key }, io);
  }
  const entries = await load(o.file, io);
  if (!entries) return ExitCode.CONFIG;
  for (const e of entries) io.out(`${JSON.stringify({ UID: e.uid, GroupName: e.group })}\n`);
  return ExitCode.OK;
}

export async function runAclAdd(o: { file: string; uid: string; group: string; key?: Buffer }, io: CliIo): Promise<number> {
  if (!isValidUid(o.uid) || o.uid === '') {
    io.err('iotsocket acl add: --uid must be 1 to 16 bytes of UTF-8\n');
    return ExitCode.CONFIG;
  }
  const entries = await load(o.file, io);
  if (!entries) return ExitCode.CONFIG;
  const key = o.key ?? randomBytes(16);
  const next = entries.filter((e) => e.uid !== o.uid).concat({ uid: o.uid, group: o.group, key });
  await writeAclFileAtomic(o.file, next);
  io.out(`${JSON.stringify({ UID: o.uid, GroupName: o.group, AuthKey: key.toString('hex').toUpperCase() })}\n`);
  return ExitCode.OK;
}

export async function runAclRemove(o: { file: string; uid: string }, io: CliIo): Promise<number> {
  const entries = await load(o.file, io);
  if (!entries) return ExitCode.CONFIG;
  const next = entries.filter((e) => e.uid !== o.uid);
  if (next.length === entries.length) {
    io.err(`iotsocket acl remove: no UID ${JSON.stringify(o.uid)} in ${o.file}\n`);
    return ExitCode.CONFIG;
  }
  await writeAclFileAtomic(o.file, next);
  return ExitCode.OK;
}

export function registerAcl(program: Command, io: CliIo, done: (code: number) => void): void {
  const acl = program.command('acl').description('list or edit the ACL file (a running daemon picks changes up)');
  const file = ['-f, --file <path>', 'the ACL file', 'data/acl.json'] as const;
  acl.command('list').description('print UID and group of each entry (never keys), from the file or a running daemon').option(...file)
    .option('--url <url>', "a running daemon's HTTP or admin base URL (GET /acl) instead of the file")
    .option('--key <hex>', 'with --url: the central key (Bearer)')
    .action(async (o: { file: string; url?: string; key?: string }) => done(await runAclList(o, io)));
  acl.command('add').description('add or replace an entry; prints its key (generated unless --key)').option(...file)
    .requiredOption('--uid <uid>', 'object UID').requiredOption('--group <name>', 'group (must exist in the daemon config)')
    .option('--key <hex>', '32 hex digits (default: a random key)', parseKey)
    .action(async (o: { file: string; uid: string; group: string; key?: Buffer }) => done(await runAclAdd(o, io)));
  acl.command('remove').description('remove an entry (its session ends at once)').option(...file)
    .requiredOption('--uid <uid>', 'object UID')
    .action(async (o: { file: string; uid: string }) => done(await runAclRemove(o, io)));
}
