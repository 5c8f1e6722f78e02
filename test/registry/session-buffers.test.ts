import t from 'tap';
import { MemorySessionBuffers } from '../../src/registry/session-buffers.js';
import { MemoryDirectoryBacking, MemorySessionDirectory } from '../../src/registry/session-directory.js';
import { sessionBuffersContract } from '../contracts/session-buffers.contract.js';

sessionBuffersContract(t, async () => {
  const backing = new MemoryDirectoryBacking();
  return { buffers: new MemorySessionBuffers(backing), directory: new MemorySessionDirectory('n1', backing) };
});
