import t from 'tap';
import { MemorySessionBuffers } from '../../src/registry/session-buffers.js';
import { sessionBuffersContract } from '../contracts/session-buffers.contract.js';

sessionBuffersContract(t, async () => new MemorySessionBuffers());
