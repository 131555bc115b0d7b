import { infoOf, resultOf, selectCases, tally, type Selection } from '../runner.js';
import { CaseFailure, CaseSkip, type CaseInfo, type ConformEvent, type RunSummary } from '../types.js';
import type { Session } from './session.js';

/** A check on what a graded client sent during one session; it throws CaseFailure or CaseSkip. */
export interface ClientCase extends CaseInfo {
  check(session: Session): void;
}

export function skip(reason: string): never {
  throw new CaseSkip(reason);
}

/** Grades a recorded session, yielding the same events as a server run, so every reporter works. */
export async function* gradeSession(
  session: Session,
  cases: readonly ClientCase[],
  selection: Selection,
  target: string,
): AsyncGenerator<ConformEvent> {
  const selected = selectCases(cases, selection);
  yield { type: 'plan', dialect: `${session.dialect} client`, target, cases: selected.map(infoOf) };
  const summary: RunSummary = {
    target,
    passed: 0,
    failed: 0,
    skipped: 0,
    score: 0,
    maxScore: 0,
    requiredFailed: 0,
    unreachable: false,
    durationMs: session.endedAt - session.startedAt,
  };
  const transcript = session.transcript.render();
  for (const c of selected) {
    yield { type: 'start', id: c.id };
    let result;
    try {
      if (session.conns.length === 0) skip('no client connected');
      c.check(session);
      result = resultOf(c, 'passed', 0);
    } catch (error) {
      if (error instanceof CaseSkip) result = resultOf(c, 'skipped', 0, { message: error.message });
      else {
        const failure =
          error instanceof CaseFailure
            ? error
            : new CaseFailure(`internal error: ${(error as Error).message}`);
        result = resultOf(c, 'failed', 0, {
          message: failure.message,
          ...(failure.expected !== undefined ? { expected: failure.expected } : {}),
          ...(failure.actual !== undefined ? { actual: failure.actual } : {}),
          transcript,
        });
      }
    }
    tally(summary, result);
    yield { type: 'result', result };
  }
  yield { type: 'end', summary };
}
