import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { gradescopeReporter } from '../src/conform/reporters/gradescope.js';
import { junitReporter } from '../src/conform/reporters/junit.js';
import type { EventSource } from '../src/conform/reporters/summary.js';
import { tableReporter } from '../src/conform/reporters/table.js';
import { tapReporter } from '../src/conform/reporters/tap.js';
import type { CaseResult, ConformEvent } from '../src/conform/types.js';

const seed = {
  file: '002_55f10d786eb5029f.txt',
  text: 'A resposta do servidor contém uma sequência de 13 dígitos',
};
const base = { seed, durationMs: 12 };
const results: CaseResult[] = [
  {
    ...base,
    id: 'zap.01.register-id',
    title: '01 & 02 <ok>',
    level: 'required',
    points: 2,
    outcome: 'passed',
  },
  {
    ...base,
    id: 'zap.05.offline-delivery',
    title: 'offline # "stored"',
    level: 'required',
    points: 3,
    outcome: 'failed',
    message: 'the pending 06 differs',
    expected: '"06...\\n"',
    actual: '"05...\\0"',
    transcript: '    1ms A -> "03123\\r\\n"\n    2ms A <- "<&>"',
  },
  {
    ...base,
    id: 'zap.16.split-frame',
    title: 'split',
    level: 'recommended',
    points: 1,
    outcome: 'failed',
    message: 'cut',
  },
  {
    ...base,
    id: 'p2p.10.keep-expiry',
    title: 'expiry',
    level: 'recommended',
    points: 1,
    outcome: 'skipped',
    message: '--quick',
  },
];
const summary = {
  target: '127.0.0.1:9',
  passed: 1,
  failed: 2,
  skipped: 1,
  score: 2,
  maxScore: 6,
  requiredFailed: 1,
  unreachable: false,
  durationMs: 1500,
};
const events: ConformEvent[] = [
  { type: 'plan', dialect: 'zap', target: '127.0.0.1:9', cases: results },
  ...results.flatMap((result): ConformEvent[] => [
    { type: 'start', id: result.id },
    { type: 'result', result },
  ]),
  { type: 'end', summary },
];
const unreachable: ConformEvent[] = [
  { type: 'plan', dialect: 'zap', target: '127.0.0.1:9', cases: results },
  { type: 'unreachable', target: '127.0.0.1:9', error: 'connect ECONNREFUSED' },
  {
    type: 'end',
    summary: {
      ...summary,
      passed: 0,
      failed: 0,
      skipped: 0,
      score: 0,
      maxScore: 0,
      requiredFailed: 0,
      unreachable: true,
    },
  },
];

async function text(
  reporter: (events: EventSource) => AsyncGenerator<string>,
  input: ConformEvent[],
): Promise<string> {
  let out = '';
  for await (const chunk of reporter(input)) out += chunk;
  return out;
}

describe('conform reporters over a fixed event stream', () => {
  it('TAP: a plan, one line per case, SKIP directives, YAML under failures, totals last', async () => {
    const tap = await text(tapReporter, events);
    const lines = tap.trimEnd().split('\n');
    expect(lines[0]).toBe('TAP version 13');
    expect(lines[1]).toBe('1..4');
    expect(lines.filter((l) => /^ok \d+ /.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /^not ok \d+ /.test(l))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('# SKIP'))).toEqual([
      'ok 4 - p2p.10.keep-expiry - expiry # SKIP --quick',
    ]);
    expect(tap).toContain('not ok 2 - zap.05.offline-delivery - offline \\# "stored"\n  ---\n');
    expect(tap).toContain('  transcript: |-\n        1ms A -> "03123\\r\\n"\n');
    expect(lines.at(-1)).toBe('# 1 passed, 2 failed, 1 skipped; score 2/6 (33.3%)');
    expect(await text(tapReporter, unreachable)).toContain('Bail out! cannot reach 127.0.0.1:9');
  });

  it('JUnit: valid XML with the counts, failure type and message, skipped, escaped text', async () => {
    const xml = await text(junitReporter, events);
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml);
    const suite = doc.testsuites.testsuite;
    expect([suite.tests, suite.failures, suite.errors, suite.skipped, suite.time]).toEqual([
      '4',
      '2',
      '0',
      '1',
      '1.500',
    ]);
    const cases = suite.testcase as Array<Record<string, Record<string, string>>>;
    expect(cases.map((c) => c.name)).toEqual([
      'zap.01.register-id: 01 & 02 <ok>',
      'zap.05.offline-delivery: offline # "stored"',
      'zap.16.split-frame: split',
      'p2p.10.keep-expiry: expiry',
    ]);
    expect(cases[1]!.failure!.type).toBe('required');
    expect(cases[1]!.failure!.message).toBe('the pending 06 differs');
    expect(cases[1]!.failure!['#text']).toContain('A <- "<&>"');
    expect(cases[2]!.failure!.type).toBe('recommended');
    expect(cases[3]!.skipped!.message).toBe('--quick');
    const down = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
      await text(junitReporter, unreachable),
    );
    expect(down.testsuites.testsuite.errors).toBe('1');
    expect(down.testsuites.testsuite.testcase.error.type).toBe('unreachable');
  });

  it('JSON: Gradescope results.json, tests[] with name, score, max_score, output', async () => {
    const json = JSON.parse(await text(gradescopeReporter, events));
    expect(json.score).toBe(2);
    expect(json.output).toBe('1 passed, 2 failed, 1 skipped; score 2/6 (33.3%)');
    expect(json.tests).toHaveLength(4);
    for (const test of json.tests) {
      expect(Object.keys(test)).toEqual(
        expect.arrayContaining(['name', 'score', 'max_score', 'output', 'status']),
      );
      expect(typeof test.name).toBe('string');
      expect(typeof test.output).toBe('string');
      expect(['passed', 'failed']).toContain(test.status);
    }
    expect(json.tests.map((t: { score: number; max_score: number }) => [t.score, t.max_score])).toEqual([
      [2, 2],
      [0, 3],
      [0, 1],
      [0, 0],
    ]);
    expect(json.tests[1].output).toContain('transcript:');
    expect(json.tests[3].output).toBe('skipped: --quick');
  });

  it('table: a row per case, details under a failure, colour only when asked, totals last', async () => {
    const plain = await text(tableReporter({ colour: false }), events);
    expect(plain).not.toContain('\u001b[');
    expect(plain).toMatch(/^FAIL zap\.05\.offline-delivery +req +0\/3 +offline/m);
    expect(plain).toContain('       seed 002_55f10d786eb5029f.txt: "A resposta do servidor');
    expect(plain).toContain('       expected: "06...\\n"');
    expect(plain.trimEnd().split('\n').at(-1)).toBe('1 passed, 2 failed, 1 skipped; score 2/6 (33.3%)');
    expect(await text(tableReporter({ colour: true }), events)).toContain('\u001b[31mFAIL\u001b[0m');
  });
});
