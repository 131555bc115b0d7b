import { storeSuite } from './store-suite.js';
import { tempDir } from './helpers/server.js';
import { LogStore } from '../src/store/log/log-store.js';

storeSuite('log', {
  async create() {
    const dataDir = tempDir();
    return { store: new LogStore({ dataDir }), reopen: async () => new LogStore({ dataDir }) };
  },
});
