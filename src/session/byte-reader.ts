import type { Socket } from 'node:net';

/**
 * Collects exactly `n` bytes from a socket before authentication. Bytes beyond `n` are
 * handed back as `extra` (the caller decides whether the protocol allows them).
 */
export function readExact(socket: Socket, n: number): Promise<{ bytes: Buffer; extra: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got < n) return;
      cleanup();
      socket.pause();
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got);
      resolve({ bytes: all.subarray(0, n), extra: got > n ? all.subarray(n) : undefined });
    };
    const onClose = () => {
      cleanup();
      reject(new Error('connection closed during the handshake'));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onClose);
    socket.resume();
  });
}
