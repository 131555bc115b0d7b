import { CaseFailure } from './types.js';
import { visible } from './transcript.js';

/** Fails the case unless `actual` is exactly `expected` (both shown with controls visible). */
export function expectSame(actual: string, expected: string, what: string): void {
  if (actual !== expected) throw new CaseFailure(what, `"${visible(expected)}"`, `"${visible(actual)}"`);
}

export function expectThat(condition: boolean, what: string, expected: string, actual: string): void {
  if (!condition) throw new CaseFailure(what, expected, actual);
}
