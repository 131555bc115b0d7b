import type { CaseResult, ConformEvent, RunSummary } from '../types.js';

export type EventSource = AsyncIterable<ConformEvent> | Iterable<ConformEvent>;
export type Reporter = (events: EventSource) => AsyncGenerator<string>;

/** The last line of every report: `N passed, N failed, N skipped; score S/M (P%)`. */
export function summaryLine(summary: RunSummary): string {
  const counts = `${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`;
  if (summary.unreachable) return `${counts}; score 0/0 (target ${summary.target} unreachable)`;
  const percent = summary.maxScore === 0 ? 0 : (100 * summary.score) / summary.maxScore;
  return `${counts}; score ${summary.score}/${summary.maxScore} (${percent.toFixed(1)}%)`;
}

/** The failure details every reporter prints: the seed's sentence, why, expected, actual, transcript. */
export function failureDetails(result: CaseResult): string[] {
  const lines = [`seed ${result.seed.file}: "${result.seed.text}"`];
  if (result.message) lines.push(`why: ${result.message}`);
  if (result.expected !== undefined) lines.push(`expected: ${result.expected}`);
  if (result.actual !== undefined) lines.push(`actual: ${result.actual}`);
  if (result.transcript)
    lines.push('transcript:', ...result.transcript.split('\n').map((line) => `  ${line}`));
  return lines;
}

/** Collects a whole stream (for reporters that need the totals before the first line). */
export async function collect(events: EventSource): Promise<ConformEvent[]> {
  const all: ConformEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}
