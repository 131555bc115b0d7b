import type { Case, CaseContext, SeedQuote } from '../types.js';
import type { Conn, Parsed } from '../conn.js';
import { CaseFailure } from '../types.js';
import { expectThat } from '../check.js';
import { visible } from '../transcript.js';

const file = '000_6ffe7fceeedc744c.txt';
const quote = (text: string): SeedQuote => ({ file, text });
export const NATIVE_SEED = {
  echo: quote(
    'O servidor funcionará como um servidor de echo, porém ao invés de devolver a mensagem para o mesmo cliente que lhe mandou, ele enviará para o destinatário.',
  ),
  framing: quote('<tamanho em bytes>,<JSON>'),
  envelope: quote('{ id: <int>, to: <int>, type: <string>, text: <string> }'),
  iterate: quote(
    'o programa irá iterar o recebimento até que consiga consumir toda a mensagem (cujo tamanho é conhecido), como visto em aula.',
  ),
  types: quote(
    'Quando um usuário envia uma mensagem (de chat), pode ter um valor de "msg". Quando um usuário se desconecta, "out".',
  ),
};

/** `<byte length>,<JSON>`, the seed's framing. */
export function frame(message: Record<string, unknown>): Buffer {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`${json.length},`, 'latin1'), json]);
}

interface NativeReply {
  /** The length the server wrote and the JSON bytes it covers, as text. */
  length: number;
  json: string;
  value: Record<string, unknown> | null;
}

/** Reads one `<len>,<JSON>` frame; whitespace between frames is skipped. */
function parseNative(unread: Buffer): Parsed<NativeReply> {
  let start = 0;
  while (start < unread.length && /\s/.test(String.fromCharCode(unread[start]!))) start++;
  const comma = unread.indexOf(0x2c, start);
  if (comma < 0) return undefined;
  const header = unread.subarray(start, comma).toString('latin1');
  if (!/^\d+$/.test(header)) {
    return {
      value: { length: -1, json: unread.subarray(start).toString('utf8'), value: null },
      length: unread.length,
    };
  }
  const length = Number(header);
  if (unread.length < comma + 1 + length) return undefined;
  const json = unread.subarray(comma + 1, comma + 1 + length).toString('utf8');
  let value: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      value = parsed as Record<string, unknown>;
  } catch {
    value = null;
  }
  return { value: { length, json, value }, length: comma + 1 + length };
}

async function awaitType(conn: Conn, type: string, what: string): Promise<Record<string, unknown>> {
  for (;;) {
    const reply = await conn.read(parseNative, what, `<byte length>,{"type":"${type}",...}`);
    if (reply.value === null) {
      throw new CaseFailure(
        `a frame is not <byte length>,<JSON object>`,
        `${Buffer.byteLength(reply.json)},${reply.json}`,
        `"${visible(`${reply.length},${reply.json}`)}" ${conn.describeUnread()}`,
      );
    }
    if (reply.value.type === type) return reply.value;
  }
}

/** Ids chosen by the client, as seed 000 clients do; 12 digits, so they never meet generated ones. */
const newId = () => 100_000_000_000 + Math.floor(Math.random() * 800_000_000_000);

async function online(ctx: CaseContext, label: string): Promise<{ id: number; conn: Conn }> {
  const id = newId();
  const conn = await ctx.connect(label);
  await conn.sendFrame(frame({ id, to: 0, type: 'new', text: '' }), 60);
  return { id, conn };
}

async function sendAndReceive(
  ctx: CaseContext,
  text: string,
  write: (conn: Conn, bytes: Buffer) => Promise<void>,
) {
  const b = await online(ctx, 'B');
  const a = await online(ctx, 'A');
  await write(a.conn, frame({ id: a.id, to: b.id, type: 'msg', text }));
  return { a, b, got: await awaitType(b.conn, 'msg', 'the msg at B') };
}

const send = (conn: Conn, bytes: Buffer) => conn.send(bytes);

export const NATIVE_CASES: Case[] = [
  {
    id: 'native.01.msg-forwarded',
    title: 'a msg is forwarded to the client named in "to"',
    seed: NATIVE_SEED.echo,
    level: 'required',
    points: 3,
    async run(ctx) {
      const text = ctx.unique('ola ');
      const { got } = await sendAndReceive(ctx, text, send);
      expectThat(
        got.text === text,
        'B got a msg with another text',
        JSON.stringify(text),
        JSON.stringify(got.text),
      );
    },
  },
  {
    id: 'native.02.length-in-bytes',
    title: 'the length before the comma counts the UTF-8 bytes of the JSON',
    seed: NATIVE_SEED.framing,
    level: 'required',
    points: 2,
    async run(ctx) {
      const text = ctx.unique('ação ☕ 🙂 ');
      const { got } = await sendAndReceive(ctx, text, send);
      expectThat(
        got.text === text,
        'the accented text did not arrive whole',
        JSON.stringify(text),
        JSON.stringify(got.text),
      );
    },
  },
  {
    id: 'native.03.envelope-fields',
    title: 'the forwarded msg keeps id (the sender), to, type and text',
    seed: NATIVE_SEED.envelope,
    level: 'required',
    points: 2,
    async run(ctx) {
      const text = ctx.unique('campos ');
      const { a, b, got } = await sendAndReceive(ctx, text, send);
      const want = { id: a.id, to: b.id, type: 'msg', text };
      const have = { id: got.id, to: got.to, type: got.type, text: got.text };
      expectThat(
        JSON.stringify(have) === JSON.stringify(want),
        'the forwarded envelope differs',
        JSON.stringify(want),
        JSON.stringify(have),
      );
    },
  },
  {
    id: 'native.04.split-frame',
    title: 'a frame written in several pieces is read whole',
    seed: NATIVE_SEED.iterate,
    level: 'required',
    points: 2,
    async run(ctx) {
      const text = ctx.unique('em pedacos ');
      const { got } = await sendAndReceive(ctx, text, async (conn, bytes) => {
        for (const [from, to] of [
          [0, 1],
          [1, 8],
          [8, bytes.length],
        ] as const)
          await conn.sendFrame(bytes.subarray(from, to), 40);
      });
      expectThat(
        got.text === text,
        'the split frame did not arrive whole',
        JSON.stringify(text),
        JSON.stringify(got.text),
      );
    },
  },
  {
    id: 'native.05.frames-in-one-write',
    title: 'two frames in one write are both read',
    seed: NATIVE_SEED.iterate,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const b = await online(ctx, 'B');
      const a = await ctx.connect('A');
      const id = newId();
      const text = ctx.unique('juntos ');
      await a.send(
        Buffer.concat([
          frame({ id, to: 0, type: 'new', text: '' }),
          frame({ id, to: b.id, type: 'msg', text }),
        ]),
      );
      const got = await awaitType(b.conn, 'msg', 'the msg at B');
      expectThat(
        got.text === text,
        'the second frame of the write was lost',
        JSON.stringify(text),
        JSON.stringify(got.text),
      );
    },
  },
  {
    id: 'native.06.out-disconnects',
    title: 'out ends the session: the server closes the connection',
    seed: NATIVE_SEED.types,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const a = await online(ctx, 'A');
      await a.conn.send(frame({ id: a.id, to: 0, type: 'out', text: '' }));
      await a.conn.waitClosed('the client sent out');
    },
  },
  ...extendedCases(),
];

function extendedCases(): Case[] {
  const ask = async (ctx: CaseContext, message: Record<string, unknown>, type: string) => {
    const conn = await ctx.connect();
    await conn.send(frame(message));
    return { conn, reply: await awaitType(conn, type, `the ${type} reply`) };
  };
  const extended = { level: 'recommended' as const, points: 1, extended: true };
  return [
    {
      ...extended,
      id: 'native.07.register-welcome',
      title: 'register is answered with welcome and a 13-digit id (extended)',
      seed: NATIVE_SEED.types,
      async run(ctx) {
        const { reply } = await ask(ctx, { type: 'register' }, 'welcome');
        expectThat(
          /^[1-9]\d{12}$/.test(String(reply.id)),
          'the welcome id is not 13 digits',
          '13 digits',
          String(reply.id),
        );
      },
    },
    {
      ...extended,
      id: 'native.08.sent-ack',
      title: 'a msg with a cid is acknowledged with sent, the cid and a mid (extended)',
      seed: NATIVE_SEED.echo,
      async run(ctx) {
        const b = await online(ctx, 'B');
        const { conn } = await ask(ctx, { type: 'register' }, 'welcome');
        await conn.send(frame({ type: 'msg', to: b.id, text: 'ack?', cid: 'c1' }));
        const sent = await awaitType(conn, 'sent', 'the sent ack');
        expectThat(
          sent.cid === 'c1' && typeof sent.mid === 'number',
          'the sent ack lacks the cid or the mid',
          '{"type":"sent","cid":"c1","mid":<n>,...}',
          JSON.stringify(sent),
        );
      },
    },
    {
      ...extended,
      id: 'native.09.unknown-recipient',
      title: 'a msg to an id no account has gets error unknown_recipient (extended)',
      seed: NATIVE_SEED.echo,
      async run(ctx) {
        const a = await online(ctx, 'A');
        await a.conn.send(frame({ id: a.id, to: 9_999_999_999_991, type: 'msg', text: 'ninguem' }));
        const error = await awaitType(a.conn, 'error', 'the error frame');
        expectThat(
          error.code === 'unknown_recipient',
          'the error code is not unknown_recipient',
          'unknown_recipient',
          String(error.code),
        );
      },
    },
    {
      ...extended,
      id: 'native.10.offline-delivery',
      title: 'a msg to a client that is not connected arrives on its next new (extended)',
      seed: NATIVE_SEED.echo,
      async run(ctx) {
        const b = await online(ctx, 'B');
        b.conn.close();
        const a = await online(ctx, 'A');
        const text = ctx.unique('depois ');
        await a.conn.sendFrame(frame({ id: a.id, to: b.id, type: 'msg', text }));
        const again = await ctx.connect('B');
        await again.send(frame({ id: b.id, to: 0, type: 'new', text: '' }));
        const got = await awaitType(again, 'msg', 'the stored msg at B');
        expectThat(got.text === text, 'B got another text', JSON.stringify(text), JSON.stringify(got.text));
      },
    },
    {
      ...extended,
      id: 'native.11.ping',
      title: 'ping is answered with pong (extended)',
      seed: NATIVE_SEED.types,
      async run(ctx) {
        await ask(ctx, { type: 'ping' }, 'pong');
      },
    },
  ];
}
