export { Hub } from './core/hub.js';
export { MensageiroError } from './core/errors.js';
export type * from './core/types.js';
export type { Store, Bus } from './core/ports.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { LocalBus } from './bus/local/local-bus.js';
export { startServer, type RunningServer } from './server/server.js';
export { loadConfig, type ServerConfig } from './server/config.js';
export { NativeDecoder, encodeNative } from './dialects/native/codec.js';
export {
  Client,
  type ClientOptions,
  type ClientEvents,
  type IncomingMessage,
  type IncomingReceipt,
} from './client/client.js';
export { LocalState } from './client/local-state.js';
