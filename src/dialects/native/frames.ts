import type { MensageiroError } from '../../core/errors.js';
import type { InboxItem } from '../../core/types.js';
import type { NativeObject } from './codec.js';

/** Server-to-client frame shapes of the native dialect; docs/protocols.md lists them all. */

export function itemFrame(item: InboxItem): NativeObject {
  switch (item.kind) {
    case 'msg': {
      const { msg } = item;
      // `id` stays the sender's, as seed 000 says; server additions go under other names.
      return {
        type: 'msg',
        id: msg.from,
        to: msg.to,
        text: msg.text,
        mid: msg.mid,
        seq: item.seq,
        at: msg.at,
        ts: msg.ts,
      };
    }
    case 'receipt': {
      const { receipt } = item;
      return {
        type: 'receipt',
        status: receipt.status,
        by: receipt.by,
        conv: receipt.conv,
        mid: receipt.mid,
        ts: receipt.ts,
        at: receipt.at,
        seq: item.seq,
      };
    }
    case 'group': {
      const { group } = item;
      return {
        type: 'group',
        gid: group.id,
        name: group.name,
        creator: group.creator,
        members: group.members,
        ts: group.ts,
        at: group.at,
        seq: item.seq,
      };
    }
  }
}

/**
 * The JSON of itemFrame(item), exactly as JSON.stringify writes it, and its size in UTF-8
 * bytes, which the frame's header needs. Messages and receipts, the bulk of every drain, are
 * written from a template, which takes half the time of stringifying an object; every field but
 * a message's text is ASCII, so only the text is counted: the bytes of the whole JSON cost as
 * much as building it (counting flattens the template's string first).
 */
export function sizedItemJson(item: InboxItem): { json: string; bytes: number } {
  if (item.kind === 'msg') {
    const { msg } = item;
    const text = JSON.stringify(msg.text);
    const json = `{"type":"msg","id":${msg.from},"to":${msg.to},"text":${text},"mid":${msg.mid},"seq":${item.seq},"at":${msg.at},"ts":${msg.ts}}`;
    return { json, bytes: json.length - text.length + Buffer.byteLength(text, 'utf8') };
  }
  if (item.kind === 'receipt') {
    // Nearly one receipt per message under load; its status is one of two fixed words, and all
    // of it is ASCII.
    const { receipt } = item;
    const json = `{"type":"receipt","status":"${receipt.status}","by":${receipt.by},"conv":${receipt.conv},"mid":${receipt.mid},"ts":${receipt.ts},"at":${receipt.at},"seq":${item.seq}}`;
    return { json, bytes: json.length };
  }
  const json = JSON.stringify(itemFrame(item));
  return { json, bytes: Buffer.byteLength(json, 'utf8') };
}

/** The durable ack of a send, echoing the client's own id when it gave one. */
export interface SentAck {
  cid?: string | number;
  mid: number;
  to: number;
  at: number;
  ts: number;
  duplicate: boolean;
}

/**
 * `{"type":"sent", cid?, mid, to, at, ts, duplicate}` (docs/protocols.md), from a template like
 * sizedItemJson's: one of these answers every send.
 */
export function sentJson(ack: SentAck): string {
  const cid = ack.cid === undefined ? '' : `"cid":${JSON.stringify(ack.cid)},`;
  return `{"type":"sent",${cid}"mid":${ack.mid},"to":${ack.to},"at":${ack.at},"ts":${ack.ts},"duplicate":${ack.duplicate}}`;
}

export function errorFrame(error: MensageiroError, extra: NativeObject = {}): NativeObject {
  return { type: 'error', code: error.code, text: error.message, ...extra };
}
