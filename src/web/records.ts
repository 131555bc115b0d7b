import type { StoredMessage } from './db.js';

let cidCounter = 0;
// getRandomValues, unlike randomUUID, also works on a plain-http page served to the LAN.
export const newCid = (prefix: 'o' | 'r') =>
  prefix +
  Date.now().toString(36) +
  (cidCounter++).toString(36) +
  crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);

/** Time order; messages of one commit share a time, and the server's ids order them. */
export const byTime = (a: StoredMessage, b: StoredMessage) =>
  a.at - b.at || (a.mid ?? Number.MAX_SAFE_INTEGER) - (b.mid ?? Number.MAX_SAFE_INTEGER);

/** A message the server has (it has a mid), as this browser stores it. */
export function storedMessage(
  conv: number,
  message: { mid: number; from: number; text: string; at: number; from_name?: string },
): StoredMessage {
  const stored: StoredMessage = {
    conv,
    k: `m${message.mid}`,
    mid: message.mid,
    from: message.from,
    text: message.text,
    at: message.at,
  };
  if (message.from_name) stored.fromName = message.from_name;
  return stored;
}
