import type { OutboxEntry, StoredMessage } from './db.js';
import { transact } from './db.js';
import type { Model } from './model.js';
import { newCid } from './records.js';

// A message this browser sends: queued durably, shown at once, then marked stored or refused.

/** The server refused a queued message for good: it stays shown, marked with the reason. */
export function markRefused(model: Model, entry: OutboxEntry, error: string): void {
  const shown = model.messages.find((message) => message.cid === entry.cid);
  if (shown) shown.failed = error;
  void transact(model.db, ['messages'], 'readwrite', (tx) => {
    const store = tx.objectStore('messages');
    const request = store.get([entry.conv, `c${entry.cid}`]);
    request.onsuccess = () => {
      const stored = request.result as StoredMessage | undefined;
      if (stored) store.put({ ...stored, failed: error });
    };
  }).then(() => model.changed());
}

/** Queues a message durably, shows it, and sends it when the link is up. */
export async function sendMessage(model: Model, conv: number, text: string): Promise<void> {
  const me = model.session!.id;
  const entry: OutboxEntry = { cid: newCid('o'), conv, text, ts: Math.floor(Date.now() / 1000) };
  const message: StoredMessage = {
    conv,
    k: `c${entry.cid}`,
    cid: entry.cid,
    from: me,
    text,
    at: Date.now(),
  };
  const summary = model.convs.get(conv)!;
  Object.assign(summary, { lastText: text, lastAt: message.at, lastFrom: me });
  await transact(model.db, ['outbox', 'messages', 'convs'], 'readwrite', (tx) => {
    tx.objectStore('outbox').add(entry);
    tx.objectStore('messages').put(message);
    tx.objectStore('convs').put(summary);
  });
  if (model.view.kind === 'conv' && model.view.id === conv) model.messages.push(message);
  model.changed();
  model.outbox.send(entry);
}

/** The server stored a queued message: its local key becomes the server's mid, in one transaction. */
export async function markSent(model: Model, cid: string, mid: number, at: number): Promise<void> {
  const entry = await model.outbox.acknowledged(cid, (tx, entry) => {
    const store = tx.objectStore('messages');
    store.delete([entry.conv, `c${cid}`]);
    store.put({ conv: entry.conv, k: `m${mid}`, mid, cid, from: model.session!.id, text: entry.text, at });
  });
  if (!entry) return;
  const shown = model.messages.find((message) => message.cid === cid);
  if (shown) Object.assign(shown, { k: `m${mid}`, mid, at });
  model.changed();
}
