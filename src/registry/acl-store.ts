import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AclEntry } from '../protocol/index.js';
import { AclFileWriter, formatAclJson, parseAclJson, removeStaleTemps } from './acl-file.js';
import { watchFile } from './acl-watch.js';

/** Persists a whole ACL durably; the default writes the file atomically (AclFileWriter). */
export interface AclWriter {
  write(entries: readonly AclEntry[]): Promise<void>;
}

export interface AclSnapshot {
  /** Changes whenever the content may have; equal versions hold equal ACLs. */
  readonly version: string;
  readonly entries: readonly AclEntry[];
}

/**
 * Where the fleet's ACL is kept: the file of a single node, or Redis for a cluster. Entries are
 * not validated here (groups are the config's business, checked by AclService); a store only
 * refuses what it cannot read, with a message naming where it read.
 */
export interface AclStore {
  /** 'ACL file /path' or 'ACL in Redis': what error messages name. */
  readonly source: string;
  /** True when other nodes write it too: every handshake then checks the version first. */
  readonly shared: boolean;
  read(): Promise<AclSnapshot>;
  /** The current version, cheaply (one round trip for a shared store). */
  version(): Promise<string>;
  /** Persists the whole ACL; resolves, with the new version, only once it is durable. */
  replace(entries: readonly AclEntry[]): Promise<string>;
  /** Calls `onChange` (debounced, maybe spuriously) when another writer changed it. Returns a stop function. */
  watch(onChange: () => void): () => void;
}

/** The single node's ACL: a JSON file, written atomically; edits by hand or `iotsocket acl` are watched. */
export class FileAclStore implements AclStore {
  readonly source: string;
  readonly shared = false;
  readonly #path: string;
  readonly #writer: AclWriter;
  #firstRead = true;

  constructor(path: string, writer: AclWriter = new AclFileWriter(path)) {
    this.#path = path;
    this.#writer = writer;
    this.source = `ACL file ${path}`;
  }

  async read(): Promise<AclSnapshot> {
    if (this.#firstRead) await removeStaleTemps(this.#path); // nothing of ours is writing yet
    this.#firstRead = false;
    const text = await this.#text();
    const parsed = parseAclJson(text);
    if ('error' in parsed) throw new Error(`${this.source}: ${parsed.error}`);
    return { version: versionOf(text), entries: parsed.entries };
  }

  async version(): Promise<string> {
    return versionOf(await this.#text());
  }

  async replace(entries: readonly AclEntry[]): Promise<string> {
    await this.#writer.write(entries);
    return versionOf(formatAclJson(entries));
  }

  watch(onChange: () => void): () => void {
    return watchFile(this.#path, onChange);
  }

  async #text(): Promise<string> {
    try {
      return await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '{}'; // first start: an empty ACL
      throw new Error(`${this.source}: ${(err as Error).message}`);
    }
  }
}

function versionOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
