import { CASES } from '../../src/conform/cases/index.js';
import { runCases } from '../../src/conform/runner.js';
import type { CaseResult, ConformEvent, DialectName, TargetOptions } from '../../src/conform/types.js';

/** Runs a dialect's whole table against 127.0.0.1:port and returns every event. */
export async function gradeEvents(
  dialect: DialectName,
  port: number,
  options: Partial<TargetOptions> & { quick?: boolean; only?: string[] } = {},
): Promise<ConformEvent[]> {
  const events: ConformEvent[] = [];
  const target = {
    host: '127.0.0.1',
    port,
    timeoutMs: 1500,
    users: ['alice', 'bob'],
    keepExpiryMs: 600,
    ...options,
  };
  const selection = { only: options.only ?? [], quick: options.quick ?? false, extended: true };
  for await (const event of runCases(dialect, CASES[dialect], target, selection)) events.push(event);
  return events;
}

export async function grade(...args: Parameters<typeof gradeEvents>): Promise<CaseResult[]> {
  return (await gradeEvents(...args)).flatMap((event) => (event.type === 'result' ? [event.result] : []));
}

export const idsWith = (results: CaseResult[], outcome: CaseResult['outcome']) =>
  results.filter((r) => r.outcome === outcome).map((r) => r.id);
