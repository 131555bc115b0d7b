import { describe, expect, it } from 'vitest';
import { CASES } from '../src/conform/cases/index.js';
import type { CaseResult, DialectName } from '../src/conform/types.js';
import { fakeLobby, fakeMm, fakeNative, fakeP2p, fakeZap, type FakeServer } from './helpers/conform-fakes.js';
import { grade, idsWith } from './helpers/conform-grade.js';

/** Each test owns its server and closes it itself: the tests run concurrently. */
async function gradeFake(
  dialect: DialectName,
  start: Promise<FakeServer>,
  quick = true,
): Promise<CaseResult[]> {
  const server = await start;
  try {
    return await grade(dialect, server.port, { quick });
  } finally {
    await server.close();
  }
}

/** The faulty server fails exactly `failing`, each with a transcript; every other case passes. */
function expectOnly(results: CaseResult[], dialect: DialectName, failing: string[]): void {
  const failed = results.filter((r) => r.outcome === 'failed');
  expect(failed.map((r) => r.id).sort()).toEqual([...failing].sort());
  for (const r of failed) {
    expect(r.transcript).toMatch(/ -> "/);
    expect(r.message).toBeTruthy();
  }
  const passed = idsWith(results, 'passed');
  const slowSkipped = CASES[dialect].filter((c) => c.slow).map((c) => c.id);
  expect(passed.length + failing.length + idsWith(results, 'skipped').length).toBe(results.length);
  expect(idsWith(results, 'skipped').every((id) => slowSkipped.includes(id))).toBe(true);
}

describe('a faulty zap server fails exactly the case it breaks', () => {
  const faults = [
    ['none', []],
    ['pad12', ['zap.01.register-id']],
    ['early07', ['zap.08.no-receipt-before-delivery', 'zap.09.pending-receipt-on-connect']],
    [
      'dropOffline',
      ['zap.05.offline-delivery', 'zap.08.no-receipt-before-delivery', 'zap.09.pending-receipt-on-connect'],
    ],
    ['noReadReceipt', ['zap.10.read-receipt', 'zap.11.pending-read-receipt']],
    ['groupWithoutCreator', ['zap.12.group-created', 'zap.13.group-pending']],
    ['noLf', ['zap.17.lf-after-frame']],
    ['bytes218', ['zap.15.utf8-218-chars']],
  ] as const;
  for (const [fault, failing] of faults) {
    it.concurrent(fault, async () => {
      const results = await gradeFake('zap', fault === 'none' ? fakeZap() : fakeZap(fault));
      expectOnly(results, 'zap', [...failing]);
    });
  }

  it('shows the padded id in the transcript, with the LF visible', async () => {
    const results = await gradeFake('zap', fakeZap('pad12'));
    const failure = results.find((r) => r.id === 'zap.01.register-id')!;
    expect(failure.actual).toMatch(/^"02\d{12}"$/);
    expect(failure.transcript).toMatch(/<- "02\d{12}\\n"/);
  });
});

describe('a faulty mm server fails exactly the case it breaks', () => {
  const users = ['alice', 'bob'];
  const allButLogin = CASES.mm.map((c) => c.id).filter((id) => id !== 'mm.01.unknown-user-disconnected');
  const faults = [
    ['none', []],
    ['keepUnknown', ['mm.01.unknown-user-disconnected']],
    ['noF', allButLogin],
    ['noNotice', ['mm.08.unknown-destination-notice']],
    ['repeat', ['mm.09.each-message-once']],
    ['plainFormat', ['mm.06.message-line-format']],
    ['dropOffline', ['mm.04.stored-for-offline-user']],
  ] as const;
  for (const [fault, failing] of faults) {
    it.concurrent(fault, async () => {
      const results = await gradeFake('mm', fault === 'none' ? fakeMm(users) : fakeMm(users, fault));
      expectOnly(results, 'mm', [...failing]);
    });
  }
});

describe('faulty lobby, native and p2p servers', () => {
  const cases = [
    ['lobby', 'none', () => fakeLobby(), []],
    ['lobby', ':D broadcast', () => fakeLobby('broadcastD'), ['lobby.06.disconnect-not-broadcast']],
    ['lobby', 'header read as characters', () => fakeLobby('charLength'), ['lobby.04.header-byte-length']],
    ['native', 'none', () => fakeNative(), CASES.native.filter((c) => c.extended).map((c) => c.id)],
    [
      'native',
      'length in characters',
      () => fakeNative('charLength'),
      ['native.02.length-in-bytes', ...CASES.native.filter((c) => c.extended).map((c) => c.id)],
    ],
    ['p2p', 'none', () => fakeP2p(600), []],
    ['p2p', 'bare LIST', () => fakeP2p(600, 'bareList'), ['p2p.02.list-empty-trailing-space']],
    ['p2p', 'wrong ip', () => fakeP2p(600, 'wrongIp'), ['p2p.03.addr-active']],
    ['p2p', 'LF only', () => fakeP2p(600, 'lfOnly'), ['p2p.05.replies-end-crlf']],
    ['p2p', 'DISC keeps the entry', () => fakeP2p(600, 'discKeeps'), ['p2p.06.disc-removes']],
    ['p2p', 'never expires', () => fakeP2p(600, 'noExpiry'), ['p2p.10.keep-expiry']],
  ] as const;
  for (const [dialect, fault, start, failing] of cases) {
    it.concurrent(`${dialect}: ${fault}`, async () => {
      const results = await gradeFake(dialect, start(), dialect !== 'p2p');
      expectOnly(results, dialect, [...failing]);
    });
  }
});
