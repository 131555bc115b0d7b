import { collect, failureDetails, summaryLine, type EventSource } from './summary.js';
import type { RunSummary } from '../types.js';

/** Gradescope's results.json: `tests[]` with name, score, max_score, status and output. */
export async function* gradescopeReporter(events: EventSource): AsyncGenerator<string> {
  const all = await collect(events);
  const summary = (all.find((e) => e.type === 'end') as { summary: RunSummary } | undefined)?.summary;
  const unreachable = all.find((e) => e.type === 'unreachable');
  const tests = all.flatMap((e) => {
    if (e.type !== 'result') return [];
    const r = e.result;
    const skipped = r.outcome === 'skipped';
    return [
      {
        name: `${r.id}: ${r.title}`,
        number: r.id,
        score: r.outcome === 'passed' ? r.points : 0,
        max_score: skipped ? 0 : r.points,
        status: r.outcome === 'passed' ? 'passed' : 'failed',
        tags: [r.level],
        visibility: 'visible',
        output: skipped
          ? `skipped: ${r.message ?? ''}`
          : r.outcome === 'failed'
            ? failureDetails(r).join('\n')
            : `seed ${r.seed.file}: "${r.seed.text}"`,
      },
    ];
  });
  const output = [
    ...(unreachable?.type === 'unreachable'
      ? [`cannot reach ${unreachable.target}: ${unreachable.error}`]
      : []),
    ...(summary ? [summaryLine(summary)] : []),
  ].join('\n');
  const results = {
    score: summary?.score ?? 0,
    execution_time: Math.round((summary?.durationMs ?? 0) / 1000),
    output,
    stdout_visibility: 'visible',
    tests,
  };
  yield `${JSON.stringify(results, null, 2)}\n`;
}
