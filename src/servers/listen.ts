import type { AddressInfo, Server } from 'node:net';
import { ListenError } from '../errors.js';

/** listen() as a promise whose failure names the port and host (EADDRINUSE, EACCES...). */
export function listenOn(server: Server, host: string, port: number, what: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(new ListenError(what, host, port, err));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
