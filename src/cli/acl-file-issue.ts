import type { ConfigDraft, ConfigIssue } from '../config/load.js';
import { checkAclFile } from '../registry/acl-check.js';

/**
 * The ACL file the config names, checked as the daemon will load it (a missing file is an
 * empty ACL), as a configuration issue on `acl.file`: `check-config` and `start` print it
 * the same way, and both exit 1 on it before anything listens.
 */
export async function aclFileIssues(draft: ConfigDraft): Promise<ConfigIssue[]> {
  const checked = await checkAclFile(draft.raw.acl.file, new Set(Object.keys(draft.raw.groups)), 'empty');
  return 'error' in checked ? [{ path: 'acl.file', line: draft.locate('acl.file'), message: checked.error }] : [];
}
