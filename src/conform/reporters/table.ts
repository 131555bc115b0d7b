import { failureDetails, summaryLine, type EventSource } from './summary.js';

const COLOURS = { green: 32, red: 31, yellow: 33, dim: 2, bold: 1 } as const;
type Colour = keyof typeof COLOURS;

/** The readable report: one row per case as it finishes, details under failures, the totals last. */
export function tableReporter(options: { colour: boolean }) {
  const paint = (colour: Colour, text: string) =>
    options.colour ? `\u001b[${COLOURS[colour]}m${text}\u001b[0m` : text;
  return async function* table(events: EventSource): AsyncGenerator<string> {
    let idWidth = 0;
    for await (const event of events) {
      switch (event.type) {
        case 'plan':
          idWidth = Math.max(0, ...event.cases.map((c) => c.id.length));
          yield `${paint('bold', `mensageiro conform ${event.dialect} ${event.target}`)} (${event.cases.length} cases)\n`;
          break;
        case 'unreachable':
          yield `${paint('red', `cannot reach ${event.target}: ${event.error}`)}\n`;
          break;
        case 'result': {
          const r = event.result;
          const mark =
            r.outcome === 'passed'
              ? paint('green', 'PASS')
              : r.outcome === 'failed'
                ? paint('red', 'FAIL')
                : paint('yellow', 'SKIP');
          const points =
            r.outcome === 'skipped' ? '   ' : `${r.outcome === 'passed' ? r.points : 0}/${r.points}`;
          const level = r.level === 'required' ? 'req' : 'rec';
          const tail =
            r.outcome === 'skipped'
              ? paint('dim', ` (${r.message ?? 'skipped'})`)
              : paint('dim', ` ${r.durationMs}ms`);
          yield `${mark} ${r.id.padEnd(idWidth)} ${level} ${points.padStart(5)}  ${r.title}${tail}\n`;
          if (r.outcome === 'failed')
            yield failureDetails(r)
              .map((line) => `       ${line}\n`)
              .join('');
          break;
        }
        case 'end':
          yield `${paint(event.summary.requiredFailed || event.summary.unreachable ? 'red' : 'green', summaryLine(event.summary))}\n`;
          break;
      }
    }
  };
}
