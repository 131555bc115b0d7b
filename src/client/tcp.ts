import net from 'node:net';

/**
 * Opens a TCP connection and resolves once it is up (rejects if it cannot be made). After that,
 * socket errors are swallowed: every client learns of the end from 'close'.
 */
export function connectTcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}
