import { SEMI_SPACES, mensageiroNode, type Peer } from './peers.js';

/** Mensageiro on the append-only log store (src/store/log), beside the SQLite default. */
export function logStorePeer(version: string): Peer {
  return {
    name: 'mensageiro-log',
    protocol: 'native',
    version,
    config:
      'native dialect, append-only log store, ack after the group fdatasync; rate limits off for the load; ' +
      `node ${SEMI_SPACES}`,
    skips: [],
    persistentAccounts: true,
    start: (port, dir) => mensageiroNode(['--data', dir, '--store', 'log:', '--native-port', String(port)]),
  };
}
