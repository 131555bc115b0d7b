/**
 * The browser's IndexedDB: schema and raw calls only. Every transaction settles on `complete`
 * (the write is durable) and rejects on `error` or `abort` (a full quota aborts).
 */

export const DB_NAME = 'mensageiro';
export const DB_VERSION = 1;

export interface StoredMessage {
  conv: number;
  /** `m<mid>` once the server has the message, `c<cid>` while only this browser does. */
  k: string;
  mid?: number;
  cid?: string;
  from: number;
  fromName?: string;
  text: string;
  /** Server time in ms; local time while queued, so queued messages sort last. */
  at: number;
  /** Set when the server refused the message for good. */
  failed?: string;
}

export interface Conversation {
  id: number;
  kind: 'user' | 'group';
  name: string;
  members?: number[];
  /** False once this account has left or been removed from the group. */
  active?: boolean;
  lastText: string;
  lastAt: number;
  lastFrom: number;
  unread: number;
  /** The newest incoming mid this account has told the server it read. */
  readMid: number;
  /** Watermarks over this account's own messages in the conversation. */
  deliveredUpTo: number;
  readUpTo: number;
  /** Groups: each reader's read watermark. */
  readBy?: Record<string, number>;
  /** Whether older history may still be on the server. */
  moreHistory?: boolean;
}

export interface OutboxEntry {
  n?: number;
  cid: string;
  conv: number;
  text: string;
  ts: number;
}

export interface Person {
  id: number;
  name: string;
}

export interface MetaEntry {
  key: string;
  value: unknown;
}

export const STORES = ['messages', 'convs', 'outbox', 'people', 'meta'] as const;
export type StoreName = (typeof STORES)[number];

/** Each version creates only what is missing, so an upgrade never drops queued messages. */
function upgrade(db: IDBDatabase): void {
  if (!db.objectStoreNames.contains('messages')) {
    const messages = db.createObjectStore('messages', { keyPath: ['conv', 'k'] });
    messages.createIndex('byTime', ['conv', 'at']);
  }
  if (!db.objectStoreNames.contains('convs')) db.createObjectStore('convs', { keyPath: 'id' });
  if (!db.objectStoreNames.contains('outbox'))
    db.createObjectStore('outbox', { keyPath: 'n', autoIncrement: true });
  if (!db.objectStoreNames.contains('people')) db.createObjectStore('people', { keyPath: 'id' });
  if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', { keyPath: 'key' });
}

export function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => upgrade(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('another tab holds an older version of the database open'));
    request.onsuccess = () => {
      const db = request.result;
      // Another tab is upgrading: let it, and reload into the new version.
      db.onversionchange = () => {
        db.close();
        location.reload();
      };
      resolve(db);
    };
  });
}

/** Runs `work` in one transaction; resolves with what it returns once the transaction commits. */
export function transact<T>(
  db: IDBDatabase,
  stores: StoreName[],
  mode: IDBTransactionMode,
  work: (tx: IDBTransaction) => T,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(stores, mode, { durability: 'strict' });
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    try {
      const result = work(tx);
      // 'complete' fires after this task, so it is not missed by being set here.
      tx.oncomplete = () => resolve(result);
    } catch (error) {
      tx.abort();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

export async function getAll<T>(db: IDBDatabase, store: StoreName): Promise<T[]> {
  let found: T[] = [];
  await transact(db, [store], 'readonly', (tx) => {
    const request = tx.objectStore(store).getAll();
    request.onsuccess = () => (found = request.result as T[]);
  });
  return found;
}

/** Up to `limit` of a conversation's newest messages at or before `before` (ms), oldest first. */
export async function olderMessages(
  db: IDBDatabase,
  conv: number,
  before: number,
  limit: number,
): Promise<StoredMessage[]> {
  const found: StoredMessage[] = [];
  await transact(db, ['messages'], 'readonly', (tx) => {
    const range = IDBKeyRange.bound([conv, -Infinity], [conv, before]);
    const cursor = tx.objectStore('messages').index('byTime').openCursor(range, 'prev');
    cursor.onsuccess = () => {
      const at = cursor.result;
      if (!at || found.length >= limit) return;
      found.push(at.value as StoredMessage);
      at.continue();
    };
  });
  return found.reverse();
}

export function clearAll(db: IDBDatabase): Promise<void> {
  return transact(db, [...STORES], 'readwrite', (tx) => {
    for (const store of STORES) tx.objectStore(store).clear();
  });
}
