import t from 'tap';
import { MemoryDirectoryBacking, MemorySessionDirectory } from '../../src/registry/session-directory.js';
import { sessionDirectoryContract } from '../contracts/session-directory.contract.js';

sessionDirectoryContract(t, async () => {
  const backing = new MemoryDirectoryBacking();
  return { node: async (id) => new MemorySessionDirectory(id, backing) };
});
