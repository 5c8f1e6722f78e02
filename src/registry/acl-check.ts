import { readFile } from 'node:fs/promises';
import { Acl, describeAclProblems } from './acl.js';
import { parseAclJson } from './acl-file.js';

/**
 * The verdict on an ACL file's text for the tools (`start`'s pre-check, `check-config`,
 * `iotsocket acl`), with the daemon's own messages: parseAclJson and Acl.from are the rules the
 * daemon's FileAclStore and AclService apply, and the text is the same, so none of them accepts
 * what another refuses.
 */
export function checkAclText(path: string, text: string, groups: ReadonlySet<string>): { acl: Acl } | { error: string } {
  const read = parseAclJson(text);
  if ('error' in read) return { error: `ACL file ${path}: ${read.error}` };
  const acl = Acl.from(read.entries, groups);
  if (Array.isArray(acl)) return { error: `ACL file ${path}: ${describeAclProblems(acl)}` };
  return { acl };
}

/**
 * Reads and checks the file. `missing: 'empty'` is what the daemon does (no file yet: an empty
 * ACL); the tools that only read it say 'error', so a mistyped path is not an empty list.
 */
export async function checkAclFile(path: string, groups: ReadonlySet<string>, missing: 'empty' | 'error'): Promise<{ acl: Acl; text?: string } | { error: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return missing === 'empty' ? { acl: Acl.empty } : { error: `ACL file ${path}: no such file` };
    }
    return { error: `ACL file ${path}: ${(err as Error).message}` };
  }
  const checked = checkAclText(path, text, groups);
  return 'error' in checked ? checked : { acl: checked.acl, text };
}
