import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FaultProxy } from './helpers/fault-proxy.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { POSTGRES_URL, service, testSchema } from './helpers/services.js';
import { storeSuite } from './store-suite.js';

const available = service('postgres');
/** The file's schemas: its own, and one more for each fresh store the shared suite asks for. */
const schemas = [testSchema(import.meta.filename)];
const schema = schemas[0]!;
const openIn = (name: string) => () =>
  PostgresStore.open({ url: POSTGRES_URL, schema: name, onWarning: () => {} });
const open = openIn(schema);

afterAll(async () => {
  if (!available) return;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  for (const name of schemas) await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  await client.end();
});

describe.skipIf(!available)('postgres', () => {
  storeSuite('postgres', {
    async create() {
      const fresh = testSchema(import.meta.filename);
      schemas.push(fresh);
      return { store: await openIn(fresh)(), reopen: openIn(fresh) };
    },
  });
});

let nextId = 5_000_000_000_001;
const ids = (n: number) => Array.from({ length: n }, () => nextId++);
const message = (from: number, to: number, text: string, cid: string | null = null) => ({
  from,
  to,
  cid,
  text,
  ts: 1,
  at: 1,
  recipients: [to],
});

describe.skipIf(!available)('postgres across nodes', () => {
  it('migrates once when several nodes open a new schema at the same time', async () => {
    const fresh = testSchema('migrate-race');
    const stores = await Promise.all(
      [1, 2, 3, 4].map(() => PostgresStore.open({ url: POSTGRES_URL, schema: fresh, onWarning: () => {} })),
    );
    const { rows } = await stores[0]!.pool.query<{ version: number }>(`SELECT version FROM migrations`);
    expect(rows.map((r) => r.version)).toEqual([1, 2]);
    await stores[0]!.pool.query(`DROP SCHEMA ${fresh} CASCADE`);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('commits one turn of messages as one transaction', async () => {
    const store = await open();
    const [a, b] = ids(2);
    await Promise.all([a!, b!].map((id) => store.createAccount({ id })));
    const before = store.committedBatches;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => store.appendMessage(message(a!, b!, `m${n}`))),
    );
    expect(store.committedBatches - before).toBe(1);
    expect(results.map((r) => r.deliveries[0]!.item.seq)).toEqual(
      Array.from({ length: 50 }, (_, n) => n + 1),
    );
    await store.close();
  });

  it('settles a turn in the order its writes took their seqs, so deliveries are routed in order', async () => {
    const store = await open();
    const [sender, reader] = ids(2);
    await Promise.all([sender!, reader!].map((id) => store.createAccount({ id })));
    await store.appendMessage(message(sender!, reader!, 'first'));
    // One turn: the reader's ack (a receipt for the sender) is queued before the reader's
    // reply to the sender, but the turn writes messages first, so the reply takes the lower seq.
    const settled: Array<{ what: string; seqs: number[] }> = [];
    await Promise.all([
      store
        .ackDelivered(reader!, 1, 3)
        .then((deliveries) => settled.push({ what: 'ack', seqs: deliveries.map((d) => d.item.seq) })),
      store
        .appendMessage(message(reader!, sender!, 'reply'))
        .then((r) => settled.push({ what: 'reply', seqs: r.deliveries.map((d) => d.item.seq) })),
    ]);
    expect(settled).toEqual([
      { what: 'reply', seqs: [1] },
      { what: 'ack', seqs: [2] },
    ]);
    await store.close();
  });

  it('keeps each inbox gapless, with mids rising with seqs, when two nodes write to it at once', async () => {
    const [nodeA, nodeB] = await Promise.all([open(), open()]);
    const [x, y, target, other] = ids(4);
    await Promise.all([x!, y!, target!, other!].map((id) => nodeA.createAccount({ id })));
    const rounds = 20;
    // Each turn, each node sends to both recipients, in opposite orders, so their locks cross.
    for (let round = 0; round < rounds; round++) {
      await Promise.all([
        nodeA.appendMessage({ ...message(x!, target!, `a${round}`), recipients: [target!] }),
        nodeA.appendMessage(message(x!, other!, `a${round}`)),
        nodeB.appendMessage(message(y!, other!, `b${round}`)),
        nodeB.appendMessage(message(y!, target!, `b${round}`)),
      ]);
    }
    for (const user of [target!, other!]) {
      const inbox = await nodeA.readInbox(user, 0, 1000);
      expect(inbox.map((item) => item.seq)).toEqual(Array.from({ length: 2 * rounds }, (_, n) => n + 1));
      const mids = inbox.map((item) => (item.kind === 'msg' ? item.msg.mid : 0));
      expect(mids).toEqual([...mids].sort((p, q) => p - q));
      expect(await nodeB.inboxState(user)).toEqual({ delivered: 0, last: 2 * rounds });
    }
    await Promise.all([nodeA.close(), nodeB.close()]);
  });

  it('stores a resend once when two nodes get it at the same time', async () => {
    const [nodeA, nodeB] = await Promise.all([open(), open()]);
    const [from, to] = ids(2);
    await Promise.all([from!, to!].map((id) => nodeA.createAccount({ id })));
    const [first, second] = await Promise.all([
      nodeA.appendMessage(message(from!, to!, 'once', 'same-cid')),
      nodeB.appendMessage(message(from!, to!, 'once', 'same-cid')),
    ]);
    expect([first!.duplicate, second!.duplicate].sort()).toEqual([false, true]);
    expect(first!.message.mid).toBe(second!.message.mid);
    expect(await nodeA.readInbox(to!, 0, 10)).toHaveLength(1);
    await Promise.all([nodeA.close(), nodeB.close()]);
  });
});

describe.skipIf(!available)('postgres out of reach', () => {
  it('fails writes with unavailable while blackholed or reset, acknowledges nothing, and recovers', async () => {
    const proxy = await FaultProxy.start(Number(new URL(POSTGRES_URL).port || 5432));
    const url = new URL(POSTGRES_URL);
    url.port = String(proxy.port);
    const warnings: string[] = [];
    const store = await PostgresStore.open({
      url: url.toString(),
      schema,
      queryTimeoutMs: 300,
      onWarning: (w) => warnings.push(w),
    });
    const [a, b] = ids(2);
    await Promise.all([a!, b!].map((id) => store.createAccount({ id })));
    await store.appendMessage(message(a!, b!, 'before', 'c0'));

    for (const mode of ['blackhole', 'reset'] as const) {
      proxy.set(mode);
      await expect(store.appendMessage(message(a!, b!, `during ${mode}`, `c-${mode}`))).rejects.toMatchObject(
        {
          code: 'unavailable',
        },
      );
      await expect(store.readInbox(b!, 0, 10)).rejects.toMatchObject({ code: 'unavailable' });
      proxy.set('pass');
      const texts = (await store.readInbox(b!, 0, 10)).map((i) => (i.kind === 'msg' ? i.msg.text : ''));
      expect(texts).toEqual(['before']);
    }
    const after = await store.appendMessage(message(a!, b!, 'after', 'c1'));
    expect(after.deliveries[0]!.item.seq).toBe(2);
    await store.close();
    await proxy.close();
  });

  it('survives its idle connections being killed by the server', async () => {
    const warnings: string[] = [];
    const applicationName = `${schema}-idle`;
    const store = await PostgresStore.open({
      url: POSTGRES_URL,
      schema,
      applicationName,
      onWarning: (w) => warnings.push(w),
    });
    const [a] = ids(1);
    await store.createAccount({ id: a! });
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1 || ' %'`,
      [applicationName],
    );
    expect(killed.rowCount).toBeGreaterThan(0);
    await admin.end();
    await vi.waitFor(() => expect(warnings.some((w) => w.includes('connection'))).toBe(true));
    expect((await store.getAccount(a!))?.id).toBe(a);
    await store.close();
  });
});
