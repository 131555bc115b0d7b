import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MensageiroError } from '../src/core/errors.js';
import { LineDecoder } from '../src/dialects/line-decoder.js';
import { LobbyDecoder, encodeLobbyInput } from '../src/dialects/lobby/codec.js';
import { parseClientLine } from '../src/dialects/mm/codec.js';
import { NativeDecoder, encodeNative } from '../src/dialects/native/codec.js';
import { parseInstruction } from '../src/dialects/p2p/codec.js';
import { ZapDecoder, encodeZap } from '../src/dialects/zap/codec.js';
import { splitAt } from './helpers/chunks.js';

/**
 * Every codec against random and mutated input: only frames or MensageiroErrors come out, never
 * another exception, and never a hang (each run is bounded input, so a hang is a test timeout).
 * `npm test` runs a few thousand inputs per codec; `npm run fuzz` sets FUZZ_RUNS=1000000.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
/** Runs per fc.assert: between batches the worker's event loop turns, so its RPC stays alive. */
const BATCH = 50_000;

async function checkInBatches<T>(property: fc.IProperty<T>): Promise<void> {
  for (let done = 0; done < RUNS; done += BATCH) {
    fc.assert(property, { numRuns: Math.min(BATCH, RUNS - done) });
    await new Promise((resolve) => setImmediate(resolve));
  }
}
const TIMEOUT = Math.max(30_000, RUNS * 2);

interface Target {
  name: string;
  /** Feeds chunks to a fresh decoder; returns what came out. */
  feed(chunks: Buffer[]): unknown[];
  /** Valid wire bytes to mutate. */
  valid: Buffer[];
}

const errorsOnly = (results: Array<{ ok: boolean; error?: unknown }>) =>
  results.filter((r) => !r.ok).map((r) => r.error);

const targets: Target[] = [
  {
    name: 'native',
    feed: (chunks) => {
      const decoder = new NativeDecoder(4096);
      return chunks.flatMap((c) => errorsOnly(decoder.push(c)));
    },
    valid: [
      encodeNative({ type: 'msg', to: 1234567890123, text: 'olá 🎉', cid: 'c1' }),
      encodeNative({ type: 'new', id: 42 }, true),
      Buffer.from('21,{"type":"out","id":7}'),
    ],
  },
  {
    name: 'zap',
    feed: (chunks) => {
      const decoder = new ZapDecoder();
      const out = chunks.flatMap((c) => errorsOnly(decoder.push(c)));
      return [...out, ...errorsOnly(decoder.flush())];
    },
    valid: [
      encodeZap({ code: '05', src: 1, dst: 2, ts: 1_700_000_000, data: 'oi ç' }),
      encodeZap({ code: '10', creator: 1, ts: 1, members: [2, 3, 4] }),
      Buffer.from('01030000000000007'),
    ],
  },
  {
    name: 'lines (mm, p2p)',
    feed: (chunks) => {
      const decoder = new LineDecoder(256);
      const results = chunks.flatMap((c) => decoder.push(c));
      for (const r of results)
        if (r.ok) {
          parseClientLine(r.line);
          parseInstruction(r.line);
        }
      return errorsOnly(results);
    },
    valid: [
      Buffer.from('alice\n@bob oi\n\n'),
      Buffer.from('USER ana:5000\r\nLIST\r\nADDR bia\r\nKEEP\r\nDISC\r\n'),
    ],
  },
  {
    name: 'lobby',
    feed: (chunks) => {
      const decoder = new LobbyDecoder(1024);
      return chunks.flatMap((c) => errorsOnly(decoder.push(c)));
    },
    valid: [encodeLobbyInput('olá, sala'), encodeLobbyInput(':D')],
  },
];

const mutation = fc.record({
  which: fc.nat(),
  edits: fc.array(
    fc.record({
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      kind: fc.constantFrom('set', 'insert', 'delete'),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
});

describe(`fuzz: every codec, ${RUNS} random and ${RUNS} mutated inputs each`, () => {
  for (const target of targets) {
    it(
      `${target.name}: random bytes`,
      async () => {
        await checkInBatches(
          fc.property(fc.array(fc.uint8Array({ maxLength: 128 }), { maxLength: 6 }), (chunks) => {
            for (const error of target.feed(chunks.map((c) => Buffer.from(c))))
              expect(error).toBeInstanceOf(MensageiroError);
          }),
        );
        console.log(`fuzz ${target.name}: ${RUNS} random inputs, no exception but MensageiroError`);
      },
      TIMEOUT,
    );

    it(
      `${target.name}: mutations of valid frames`,
      async () => {
        await checkInBatches(
          fc.property(mutation, ({ which, edits, cuts }) => {
            const bytes = [...Buffer.concat(target.valid.slice(which % target.valid.length))];
            for (const edit of edits) {
              const at = edit.at % (bytes.length + 1);
              if (edit.kind === 'set' && at < bytes.length) bytes[at] = edit.byte;
              else if (edit.kind === 'insert') bytes.splice(at, 0, edit.byte);
              else if (at < bytes.length) bytes.splice(at, 1);
            }
            for (const error of target.feed(splitAt(Buffer.from(bytes), cuts)))
              expect(error).toBeInstanceOf(MensageiroError);
          }),
        );
        console.log(`fuzz ${target.name}: ${RUNS} mutated frames, no exception but MensageiroError`);
      },
      TIMEOUT,
    );
  }
});
