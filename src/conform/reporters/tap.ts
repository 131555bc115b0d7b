import { summaryLine, type EventSource } from './summary.js';
import type { CaseResult } from '../types.js';

/** Descriptions may not hold `#` (a directive) or raw control characters. */
const tapEscape = (text: string) =>
  text
    .replace(/\\/g, '\\\\')
    .replace(/#/g, '\\#')
    .replace(/[^\x20-\uffff]/g, ' ');

const yamlString = (text: string) => JSON.stringify(text);

function diagnostics(r: CaseResult): string {
  const lines = [
    '  ---',
    `  message: ${yamlString(r.message ?? '')}`,
    `  severity: ${r.level === 'required' ? 'fail' : 'warn'}`,
    `  level: ${r.level}`,
    `  seed: ${yamlString(`${r.seed.file}: ${r.seed.text}`)}`,
  ];
  if (r.expected !== undefined) lines.push(`  expected: ${yamlString(r.expected)}`);
  if (r.actual !== undefined) lines.push(`  actual: ${yamlString(r.actual)}`);
  lines.push(`  duration_ms: ${r.durationMs}`);
  if (r.transcript) lines.push('  transcript: |-', ...r.transcript.split('\n').map((line) => `    ${line}`));
  lines.push('  ...');
  return `${lines.join('\n')}\n`;
}

/** TAP version 13: a plan, one `ok`/`not ok` per case (skips as `# SKIP`), YAML diagnostics on failures. */
export async function* tapReporter(events: EventSource): AsyncGenerator<string> {
  let n = 0;
  yield 'TAP version 13\n';
  for await (const event of events) {
    switch (event.type) {
      case 'plan':
        yield `1..${event.cases.length}\n`;
        break;
      case 'unreachable':
        yield `Bail out! cannot reach ${tapEscape(event.target)}: ${tapEscape(event.error)}\n`;
        break;
      case 'result': {
        const r = event.result;
        const name = `${r.id} - ${tapEscape(r.title)}`;
        n++;
        if (r.outcome === 'passed') yield `ok ${n} - ${name}\n`;
        else if (r.outcome === 'skipped') yield `ok ${n} - ${name} # SKIP ${tapEscape(r.message ?? '')}\n`;
        else yield `not ok ${n} - ${name}\n${diagnostics(r)}`;
        break;
      }
      case 'end':
        yield `# ${summaryLine(event.summary)}\n`;
        break;
    }
  }
}
