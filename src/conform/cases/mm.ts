import type { Case, CaseContext, SeedQuote } from '../types.js';
import type { Conn } from '../conn.js';
import { CaseFailure } from '../types.js';
import { expectThat } from '../check.js';
import { visible } from '../transcript.js';

const file = '001_2e493546f48d770d.txt';
const quote = (text: string): SeedQuote => ({ file, text });
export const MM_SEED = {
  disconnect: quote(
    'Caso o usuário informado pelo cliente não esteja na base de usuários do servidor, o cliente deverá ser desconectado.',
  ),
  download: quote('baixar as novas mensagens do usuário, se houver;'),
  f: quote(
    "Ao finalizar o envio de todas as mensagens novas, será enviado uma mensagem com o caractere 'f' informando que fim das mensagens.",
  ),
  store: quote('Se existir, irá armazenar a mensagem em um dicionário cuja chave é o login do usuário.'),
  after: quote(
    'Após receber uma mensagem o servidor enviará as mensagens novas para este usuário, uma por vez.',
  ),
  format: quote('@usuário_destino <espaço em branco> texto completo da mensagem <enter>'),
  discard: quote('Caso o usuário não exista, a mensagem será descartada.'),
};

/** Lines of one reply, up to and without its `f`. */
async function reply(conn: Conn, what: string): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const line = await conn.line(
      `${what} (lines ending in a line "f")`,
      'message lines, then a line holding only f',
    );
    if (line.text === 'f') return lines;
    lines.push(line.text);
  }
}

/** Signs in and takes whatever the server sends first; a server that sends nothing until asked is fine here. */
async function login(
  ctx: CaseContext,
  user: string,
  label: string,
): Promise<{ conn: Conn; lines: string[] }> {
  const conn = await ctx.connect(label);
  await conn.send(`${user}\n`);
  const text = await drainUntilF(conn, ctx.quietMs);
  if (conn.closed)
    throw new CaseFailure(
      `the target closed the connection after the username ${user}`,
      `the user ${user} (from --users) signed in`,
      `"${visible(text)}" then closed`,
    );
  return { conn, lines: text.split('\n').filter((line) => line !== '' && line !== 'f') };
}

/** Reads until a line `f` arrives or `ms` pass in silence. */
async function drainUntilF(conn: Conn, ms: number): Promise<string> {
  let text = '';
  let quietSince = Date.now();
  while (!/(^|\n)f\r?\n$/.test(text) && !conn.closed && Date.now() - quietSince < ms) {
    const more = await conn.drain(Math.min(50, ms));
    if (more !== '') quietSince = Date.now();
    text += more;
  }
  return text;
}

function users(ctx: CaseContext): [string, string] {
  const [a, b] = ctx.options.users;
  if (!a || !b) ctx.skip('needs two users that exist on the target: --users alice,bob');
  return [a, b];
}

function expectLineWith(lines: string[], text: string, what: string): string {
  const line = lines.find((l) => l.includes(text));
  if (!line)
    throw new CaseFailure(
      what,
      `a line holding "${text}"`,
      lines.length ? lines.map((l) => `"${visible(l)}"`).join(', ') : 'no message lines',
    );
  return line;
}

export const MM_CASES: Case[] = [
  {
    id: 'mm.01.unknown-user-disconnected',
    title: 'a username that is not in the users database is disconnected',
    seed: MM_SEED.disconnect,
    level: 'required',
    points: 2,
    async run(ctx) {
      const conn = await ctx.connect();
      await conn.send(`${ctx.unique('ninguem')}\n`);
      await conn.waitClosed('the user does not exist');
    },
  },
  {
    id: 'mm.02.login-reply-ends-in-f',
    title: 'after the username the server sends the pending messages, then f',
    seed: MM_SEED.download,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const [alice] = users(ctx);
      const conn = await ctx.connect();
      await conn.send(`${alice}\n`);
      await reply(conn, 'the login reply');
    },
  },
  {
    id: 'mm.03.send-reply-ends-in-f',
    title: "@user text is answered with the new messages and a line 'f'",
    seed: MM_SEED.f,
    level: 'required',
    points: 3,
    async run(ctx) {
      const [alice, bob] = users(ctx);
      const { conn } = await login(ctx, alice, 'A');
      await conn.send(`@${bob} ${ctx.unique('oi ')}\n`);
      await reply(conn, 'the reply to @user text');
    },
  },
  {
    id: 'mm.04.stored-for-offline-user',
    title: 'a message to a user who is not connected reaches them when they next connect',
    seed: MM_SEED.store,
    level: 'required',
    points: 3,
    async run(ctx) {
      const [alice, bob] = users(ctx);
      await login(ctx, bob, 'B').then(({ conn }) => conn.close());
      const { conn: a } = await login(ctx, alice, 'A');
      const text = ctx.unique('guardada ');
      await a.send(`@${bob} ${text}\n`);
      await reply(a, 'the reply to @user text');
      const b = await login(ctx, bob, 'B');
      if (b.lines.some((l) => l.includes(text))) return;
      await b.conn.send(`@${alice} ok\n`);
      expectLineWith(
        await reply(b.conn, "the reply to B's message"),
        text,
        "the stored message did not reach B on login nor after B's next message",
      );
    },
  },
  {
    id: 'mm.05.new-messages-after-send',
    title: 'two users connected at once; after sending, B receives the messages sent to it',
    seed: MM_SEED.after,
    level: 'required',
    points: 3,
    async run(ctx) {
      const [alice, bob] = users(ctx);
      const { conn: b } = await login(ctx, bob, 'B');
      const { conn: a } = await login(ctx, alice, 'A');
      const text = ctx.unique('nova ');
      await a.send(`@${bob} ${text}\n`);
      await reply(a, 'the reply to A');
      await b.send(`@${alice} ${ctx.unique('resposta ')}\n`);
      expectLineWith(
        await reply(b, 'the reply to B'),
        text,
        "A's message is not among the new messages sent to B",
      );
    },
  },
  {
    id: 'mm.06.message-line-format',
    title: 'a message line is @sender text',
    seed: MM_SEED.format,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const [alice, bob] = users(ctx);
      const { conn: b } = await login(ctx, bob, 'B');
      const { conn: a } = await login(ctx, alice, 'A');
      const text = ctx.unique('formato ');
      await a.send(`@${bob} ${text}\n`);
      await reply(a, 'the reply to A');
      await b.send(`@${alice} ok\n`);
      const line = expectLineWith(await reply(b, 'the reply to B'), text, "A's message did not reach B");
      expectThat(
        line === `@${alice} ${text}`,
        'the message line is not "@sender text"',
        `"@${alice} ${text}"`,
        `"${visible(line)}"`,
      );
    },
  },
  {
    id: 'mm.07.unknown-destination-discarded',
    title: 'a message to an unknown user is discarded; the sender stays connected and gets f',
    seed: MM_SEED.discard,
    level: 'required',
    points: 2,
    async run(ctx) {
      const [alice] = users(ctx);
      const { conn } = await login(ctx, alice, 'A');
      await conn.send(`@${ctx.unique('ninguem')} perdida\n`);
      await reply(conn, 'the reply to a message for an unknown user');
      expectThat(
        !conn.closed,
        'the target closed the sender after an unknown destination',
        'the connection stays open',
        'closed',
      );
    },
  },
  {
    id: 'mm.08.unknown-destination-notice',
    title: 'the sender is told "@mensageiro unknown user <dest>" before the f',
    seed: MM_SEED.discard,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const [alice] = users(ctx);
      const { conn } = await login(ctx, alice, 'A');
      const nobody = ctx.unique('ninguem');
      await conn.send(`@${nobody} perdida\n`);
      const lines = await reply(conn, 'the reply to a message for an unknown user');
      expectThat(
        lines.includes(`@mensageiro unknown user ${nobody}`),
        'no unknown-user notice before the f',
        `"@mensageiro unknown user ${nobody}"`,
        lines.map((l) => `"${visible(l)}"`).join(', ') || 'no lines',
      );
    },
  },
  {
    id: 'mm.09.each-message-once',
    title: 'new messages arrive in order, one per line, and are not sent again',
    seed: MM_SEED.after,
    level: 'required',
    points: 2,
    async run(ctx) {
      const [alice, bob] = users(ctx);
      const { conn: b } = await login(ctx, bob, 'B');
      const { conn: a } = await login(ctx, alice, 'A');
      const first = ctx.unique('primeira ');
      const second = ctx.unique('segunda ');
      await a.send(`@${bob} ${first}\n`);
      await reply(a, 'the reply to the first message');
      await a.send(`@${bob} ${second}\n`);
      await reply(a, 'the reply to the second message');
      await b.send(`@${alice} ok\n`);
      const lines = await reply(b, 'the reply to B');
      const order = [first, second].map((text) => lines.findIndex((l) => l.includes(text)));
      expectThat(
        order[0]! >= 0 && order[1]! > order[0]!,
        'the two messages did not arrive in order on separate lines',
        `"${first}" then "${second}"`,
        lines.map((l) => `"${visible(l)}"`).join(', ') || 'no lines',
      );
      await b.send(`@${alice} de novo\n`);
      const again = await reply(b, "the reply to B's second message");
      expectThat(
        !again.some((l) => l.includes(first) || l.includes(second)),
        'messages already sent were sent again',
        'no repeated lines',
        again.map((l) => `"${visible(l)}"`).join(', '),
      );
    },
  },
  {
    id: 'mm.10.blank-line-fetch',
    title: 'a blank line asks only for new messages (then f)',
    seed: MM_SEED.download,
    level: 'recommended',
    points: 1,
    async run(ctx) {
      const [alice, bob] = users(ctx);
      const { conn: b } = await login(ctx, bob, 'B');
      const { conn: a } = await login(ctx, alice, 'A');
      const text = ctx.unique('busca ');
      await a.send(`@${bob} ${text}\n`);
      await reply(a, 'the reply to A');
      await b.send('\n');
      expectLineWith(
        await reply(b, 'the reply to a blank line'),
        text,
        "a blank line did not bring A's message",
      );
    },
  },
];
