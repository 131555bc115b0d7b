import type { Case } from '../types.js';
import { CaseFailure } from '../types.js';
import { expectSame, expectThat } from '../check.js';
import { visible } from '../transcript.js';
import {
  awaitExactly,
  awaitFrame,
  clientTs,
  connectZap,
  expectFrame,
  frames,
  id13,
  onlineZap,
  parseZapReply,
  registerZap,
  ts10,
} from '../zap-wire.js';
import { ZAP_SEED } from './zap-seed.js';
import { ZAP_RECEIPT_CASES } from './zap-receipts.js';

const delivery = (src: number, dst: number, ts: number, data: string) =>
  `06${id13(src)}${id13(dst)}${ts10(ts)}${data}`;

/** Sends `data` from a fresh A to a fresh B that is online, and returns B's 06. */
const ZAP_CORE_CASES: Case[] = [
  {
    id: 'zap.01.register-id',
    title: '01 is answered with 02 and exactly 13 digits',
    seed: ZAP_SEED.codes,
    level: 'required',
    points: 2,
    async run(ctx) {
      const conn = await ctx.connect();
      await conn.sendFrame(frames.register());
      const reply = await conn.read(parseZapReply, 'the 02 reply to 01', '02 and 13 digits');
      expectThat(
        /^02\d{13}$/.test(reply.raw),
        'the reply to 01 is not 02 followed by exactly 13 digits',
        '02 and 13 digits, e.g. "024821937460012"',
        `"${visible(reply.raw)}"`,
      );
    },
  },
  {
    id: 'zap.02.ids-unique',
    title: 'two registrations get two different ids',
    seed: ZAP_SEED.unique,
    level: 'required',
    points: 1,
    async run(ctx) {
      const first = await registerZap(ctx, 'A');
      const second = await registerZap(ctx, 'B');
      expectThat(
        first !== second,
        'two 01 requests got the same id',
        'two different ids',
        `${id13(first)} twice`,
      );
    },
  },
  {
    id: 'zap.03.connect-known-id',
    title: '03 with a registered id keeps the connection open',
    seed: ZAP_SEED.connect,
    level: 'required',
    points: 1,
    async run(ctx) {
      const id = await registerZap(ctx, 'A');
      const conn = await connectZap(ctx, 'A', id);
      await conn.expectSilence(ctx.quietMs, 'a new account with nothing pending should get nothing on 03');
      expectThat(
        !conn.closed,
        'the target closed the connection after 03 with a registered id',
        'the connection stays open',
        'closed',
      );
    },
  },
  {
    id: 'zap.04.live-delivery',
    title: 'a 05 to an online user arrives as 06 at once',
    seed: ZAP_SEED.online,
    level: 'required',
    points: 3,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await onlineZap(ctx, 'B');
      const text = `oi ${ctx.unique()}`;
      await a.conn.sendFrame(frames.send(a.id, b.id, clientTs(), text));
      const got = await awaitFrame(
        b.conn,
        (f) => f.code === '06',
        'the 06 delivery at B',
        delivery(a.id, b.id, clientTs(), text),
      );
      expectThat(
        got.raw.endsWith(text) && got.raw.slice(2, 15) === id13(a.id),
        'the 06 at B does not carry A as src and the text',
        `06 from ${id13(a.id)} ending in "${text}"`,
        `"${visible(got.raw)}"`,
      );
    },
  },
  {
    id: 'zap.05.offline-delivery',
    title: 'a 05 to an offline user is stored and delivered on its 03',
    seed: ZAP_SEED.offline,
    level: 'required',
    points: 3,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await registerZap(ctx, 'B');
      const text = `guardada ${ctx.unique()}`;
      const ts = clientTs();
      await a.conn.sendFrame(frames.send(a.id, b, ts, text));
      const later = await connectZap(ctx, 'B', b);
      const got = await awaitFrame(
        later,
        (f) => f.code === '06',
        'the pending 06 after 03',
        delivery(a.id, b, ts, text),
      );
      expectSame(got.raw, delivery(a.id, b, ts, text), 'the pending 06 differs from what A sent');
    },
  },
  {
    id: 'zap.06.delivery-format',
    title: '06 is the 05 with only the code changed (src, dst, ts and data unchanged)',
    seed: ZAP_SEED.format06,
    level: 'required',
    points: 2,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await onlineZap(ctx, 'B');
      const text = `formato ${ctx.unique()}`;
      const ts = clientTs(30);
      await a.conn.sendFrame(frames.send(a.id, b.id, ts, text));
      await awaitExactly(
        b.conn,
        delivery(a.id, b.id, ts, text),
        'the 06 delivery at B',
        'the 06 is not the 05 with its code changed',
      );
    },
  },
  {
    id: 'zap.15.utf8-218-chars',
    title: '218 characters of UTF-8 data (accents, emoji) arrive whole',
    seed: ZAP_SEED.data,
    level: 'required',
    points: 2,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await onlineZap(ctx, 'B');
      const tag = ctx.unique();
      const text = `${tag} ação €☕🙂 `.padEnd(200, 'é') + 'ç'.repeat(218 - 200);
      const characters = [...text].slice(0, 218).join('');
      const ts = clientTs();
      await a.conn.sendFrame(frames.send(a.id, b.id, ts, characters));
      const got = await awaitFrame(b.conn, (f) => f.code === '06', 'the 06 with 218 characters');
      expectFrame(
        got,
        delivery(a.id, b.id, ts, characters),
        'the 218-character UTF-8 text did not arrive whole',
      );
    },
  },
  {
    id: 'zap.16.split-frame',
    title: 'a 05 split over two TCP writes is joined, not cut',
    seed: ZAP_SEED.online,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await onlineZap(ctx, 'B');
      const text = `partida ${ctx.unique()}`;
      const ts = clientTs();
      const whole = frames.send(a.id, b.id, ts, text);
      await a.conn.send(whole.slice(0, 20));
      await a.conn.sendFrame(whole.slice(20), 20);
      await awaitExactly(
        b.conn,
        delivery(a.id, b.id, ts, text),
        'the 06 of the split 05',
        'the split 05 was not delivered whole',
      );
    },
  },
  {
    id: 'zap.17.lf-after-frame',
    title: 'every frame from the server ends in LF',
    seed: ZAP_SEED.codes,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const conn = await ctx.connect();
      await conn.sendFrame(frames.register());
      const reply = await conn.read(parseZapReply, 'the 02 reply to 01');
      if (reply.lf) return;
      const after = await conn.drain(ctx.quietMs);
      if (!after.startsWith('\n') && !after.startsWith('\r\n'))
        throw new CaseFailure(
          'the 02 frame did not end in LF',
          `"${visible(reply.raw)}\\n"`,
          `"${visible(reply.raw + after)}"`,
        );
    },
  },
];

export const ZAP_CASES: Case[] = [...ZAP_CORE_CASES, ...ZAP_RECEIPT_CASES].sort((x, y) =>
  x.id.localeCompare(y.id),
);
