import type { Case, CaseContext } from '../types.js';
import { sleep, type Conn } from '../conn.js';
import { CaseFailure } from '../types.js';
import { expectThat } from '../check.js';
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
  registerZap,
  ts10,
  type ZapReply,
} from '../zap-wire.js';
import { ZAP_SEED } from './zap-seed.js';

const receipt = (code: '07' | '09', dst: number, ts: number) => `${code}${id13(dst)}${ts10(ts)}`;
const is06 = (f: ZapReply) => f.code === '06';

const GROUP_FRAME = /^11(\d{13})(\d{10})((?:\d{13}){1,8})$/;

/** Reads an 11 and checks its widths; returns the group id and the member ids. */
async function readGroup(
  conn: Parameters<typeof awaitFrame>[0],
  who: string,
): Promise<{ gid: string; members: string[] }> {
  const frame = await awaitFrame(
    conn,
    (f) => f.code === '11',
    `the 11 group notice at ${who}`,
    '11, id(13), ts(10), members(n×13)',
  );
  const match = GROUP_FRAME.exec(frame.raw);
  if (!match)
    throw new CaseFailure(
      `the 11 at ${who} does not have the seed's widths`,
      '11 + id(13) + ts(10) + 1 to 8 ids of 13 digits',
      `"${visible(frame.raw)}"`,
    );
  return { gid: match[1]!, members: match[3]!.match(/\d{13}/g)! };
}

/** Closes a connection and gives the target time to see it go, so what follows is pending. */
async function offline(ctx: CaseContext, conn: Conn): Promise<void> {
  conn.close();
  await sleep(ctx.quietMs);
}

async function trio(ctx: CaseContext) {
  return [await onlineZap(ctx, 'A'), await onlineZap(ctx, 'B'), await onlineZap(ctx, 'C')] as const;
}

function expectMembers(got: string[], ids: number[], who: string): void {
  const want = ids.map(id13).sort();
  expectThat(
    JSON.stringify([...got].sort()) === JSON.stringify(want),
    `the 11 at ${who} does not list the creator and every member`,
    want.join(' '),
    got.join(' '),
  );
}

export const ZAP_RECEIPT_CASES: Case[] = [
  {
    id: 'zap.07.receipt-after-delivery',
    title: '07 dst ts reaches the sender once the recipient has the 06',
    seed: ZAP_SEED.delivered,
    level: 'required',
    points: 2,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await onlineZap(ctx, 'B');
      const ts = clientTs();
      await a.conn.sendFrame(frames.send(a.id, b.id, ts, `entregue ${ctx.unique()}`));
      await awaitFrame(b.conn, is06, 'the 06 at B');
      await awaitExactly(
        a.conn,
        receipt('07', b.id, ts),
        'the 07 delivery receipt at A',
        'the 07 does not name B and the message ts',
      );
    },
  },
  {
    id: 'zap.08.no-receipt-before-delivery',
    title: 'no 07 while the recipient is offline; 07 once it connects',
    seed: ZAP_SEED.delivered,
    level: 'required',
    points: 2,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await registerZap(ctx, 'B');
      const ts = clientTs();
      await a.conn.sendFrame(frames.send(a.id, b, ts, `ainda não ${ctx.unique()}`));
      await a.conn.expectSilence(ctx.quietMs, 'B is offline, so no 07 may come yet');
      const later = await connectZap(ctx, 'B', b);
      await awaitFrame(later, is06, 'the pending 06 at B');
      await awaitExactly(
        a.conn,
        receipt('07', b, ts),
        'the 07 after B connected',
        'the 07 does not name B and the message ts',
      );
    },
  },
  {
    id: 'zap.09.pending-receipt-on-connect',
    title: 'a 07 for a sender that was offline is delivered on its 03',
    seed: ZAP_SEED.pending,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await registerZap(ctx, 'B');
      const ts = clientTs();
      await a.conn.sendFrame(frames.send(a.id, b, ts, `depois ${ctx.unique()}`));
      await offline(ctx, a.conn);
      const bConn = await connectZap(ctx, 'B', b);
      await awaitFrame(bConn, is06, 'the pending 06 at B');
      const again = await connectZap(ctx, 'A', a.id);
      await awaitExactly(
        again,
        receipt('07', b, ts),
        'the pending 07 after A reconnected',
        'the pending 07 does not name B and the message ts',
      );
    },
  },
  {
    id: 'zap.10.read-receipt',
    title: '08 from the reader becomes 09 dst ts at the sender',
    seed: ZAP_SEED.read,
    level: 'required',
    points: 2,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await onlineZap(ctx, 'B');
      const ts = clientTs();
      await a.conn.sendFrame(frames.send(a.id, b.id, ts, `leia ${ctx.unique()}`));
      await awaitFrame(b.conn, is06, 'the 06 at B');
      await b.conn.sendFrame(frames.read(a.id, ts));
      await awaitExactly(
        a.conn,
        receipt('09', b.id, ts),
        'the 09 read receipt at A',
        'the 09 does not name the reader B and the ts',
      );
    },
  },
  {
    id: 'zap.11.pending-read-receipt',
    title: 'a 09 for a sender that was offline is delivered on its 03',
    seed: ZAP_SEED.pending,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await onlineZap(ctx, 'B');
      const ts = clientTs();
      await a.conn.sendFrame(frames.send(a.id, b.id, ts, `lida depois ${ctx.unique()}`));
      await awaitFrame(b.conn, is06, 'the 06 at B');
      await offline(ctx, a.conn);
      await b.conn.sendFrame(frames.read(a.id, ts));
      const again = await connectZap(ctx, 'A', a.id);
      await awaitExactly(
        again,
        receipt('09', b.id, ts),
        'the pending 09 after A reconnected',
        'the pending 09 does not name the reader B and the ts',
      );
    },
  },
  {
    id: 'zap.12.group-created',
    title: '10 creates a group: 11 with a 13-digit id and every member reaches each member and the creator',
    seed: ZAP_SEED.group,
    level: 'required',
    points: 3,
    async run(ctx) {
      const [a, b, c] = await trio(ctx);
      await a.conn.sendFrame(frames.group(a.id, clientTs(), [b.id, c.id]));
      const seen = new Set<string>();
      for (const [user, who] of [
        [a, 'A'],
        [b, 'B'],
        [c, 'C'],
      ] as const) {
        const group = await readGroup(user.conn, who);
        expectMembers(group.members, [a.id, b.id, c.id], who);
        seen.add(group.gid);
      }
      expectThat(
        seen.size === 1,
        'the members were told different group ids',
        'one group id',
        [...seen].join(', '),
      );
    },
  },
  {
    id: 'zap.13.group-pending',
    title: 'a member that was offline gets the 11 on its 03',
    seed: ZAP_SEED.pending,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await onlineZap(ctx, 'A');
      const b = await registerZap(ctx, 'B');
      await a.conn.sendFrame(frames.group(a.id, clientTs(), [b]));
      await readGroup(a.conn, 'A');
      const later = await connectZap(ctx, 'B', b);
      expectMembers((await readGroup(later, 'B')).members, [a.id, b], 'B');
    },
  },
  {
    id: 'zap.14.group-fanout',
    title: 'a 05 to a group id reaches every other member as 06 with dst = the group',
    seed: ZAP_SEED.groupMembers,
    level: 'recommended',
    points: 2,
    async run(ctx) {
      const [a, b, c] = await trio(ctx);
      await a.conn.sendFrame(frames.group(a.id, clientTs(), [b.id, c.id]));
      const { gid } = await readGroup(a.conn, 'A');
      await readGroup(b.conn, 'B');
      await readGroup(c.conn, 'C');
      const ts = clientTs();
      const text = `para o grupo ${ctx.unique()}`;
      await a.conn.sendFrame(frames.send(a.id, Number(gid), ts, text));
      const expected = `06${id13(a.id)}${gid}${ts10(ts)}${text}`;
      for (const [user, who] of [
        [b, 'B'],
        [c, 'C'],
      ] as const) {
        expectFrame(
          await awaitFrame(user.conn, is06, `the group 06 at ${who}`, expected),
          expected,
          `the group message at ${who} is not 06 with dst = the group`,
        );
      }
      const echoed = await a.conn.drain(ctx.quietMs);
      expectThat(
        !echoed.includes(text),
        'the sender got its own group message back',
        'nothing but receipts at A',
        `"${visible(echoed)}"`,
      );
    },
  },
];
