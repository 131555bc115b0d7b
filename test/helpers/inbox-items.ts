import fc from 'fast-check';
import type { InboxItem } from '../../src/core/types.js';

// Arbitrary inbox items for the properties of the codecs that write them.

export const accountId = fc.integer({ min: 1, max: 9_999_999_999_999 });
export const seq = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
// Any UTF-16, lone surrogates included: JSON.stringify escapes those, and so must the templates.
export const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string());

export const msgItem: fc.Arbitrary<InboxItem> = fc.record({
  seq,
  kind: fc.constant('msg' as const),
  msg: fc.record(
    {
      mid: seq,
      from: accountId,
      to: accountId,
      text,
      ts: fc.integer({ min: 0, max: 2 ** 40 }),
      at: seq,
      fromName: fc.option(text, { nil: undefined }),
    },
    { requiredKeys: ['mid', 'from', 'to', 'text', 'ts', 'at'] },
  ),
});

/** The account's own message, for its other devices. */
export const sentItem: fc.Arbitrary<InboxItem> = fc.record({
  seq,
  kind: fc.constant('sent' as const),
  msg: fc.record({
    mid: seq,
    from: accountId,
    to: accountId,
    text,
    ts: fc.integer({ min: 0, max: 2 ** 40 }),
    at: seq,
  }),
  device: fc.integer({ min: 1, max: 64 }),
});

export const receiptItem: fc.Arbitrary<InboxItem> = fc.record({
  seq,
  kind: fc.constant('receipt' as const),
  receipt: fc.record({
    status: fc.constantFrom('delivered' as const, 'read' as const),
    by: accountId,
    conv: accountId,
    mid: seq,
    ts: seq,
    at: seq,
  }),
});

export const groupItem: fc.Arbitrary<InboxItem> = fc.record({
  seq,
  kind: fc.constant('group' as const),
  group: fc.record({
    id: accountId,
    name: text,
    creator: accountId,
    members: fc.array(accountId, { maxLength: 8 }),
    admins: fc.array(accountId, { maxLength: 8 }),
    ts: accountId,
    at: accountId,
  }),
  change: fc.record({
    action: fc.constantFrom('create' as const, 'add' as const, 'remove' as const, 'leave' as const),
    by: accountId,
    affected: fc.array(accountId, { maxLength: 8 }),
    ts: accountId,
    at: accountId,
  }),
  names: fc.array(fc.option(text, { nil: null }), { maxLength: 8 }),
});
