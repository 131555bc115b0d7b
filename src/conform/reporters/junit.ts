import { collect, failureDetails, summaryLine, type EventSource } from './summary.js';
import type { CaseInfo, CaseResult, RunSummary } from '../types.js';

/** Characters XML 1.0 cannot hold at all (transcripts already show them escaped). */
const invalidXml = /[^\t\n\r\x20-\ufffd]/g;

const escapeText = (text: string) =>
  text.replace(invalidXml, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (text: string) =>
  escapeText(text)
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
const seconds = (ms: number) => (ms / 1000).toFixed(3);

function testcase(dialect: string, r: CaseResult): string {
  const open = `    <testcase classname="conform.${escapeAttr(dialect)}" name="${escapeAttr(`${r.id}: ${r.title}`)}" time="${seconds(r.durationMs)}"`;
  if (r.outcome === 'passed') return `${open}/>\n`;
  if (r.outcome === 'skipped')
    return `${open}>\n      <skipped message="${escapeAttr(r.message ?? '')}"/>\n    </testcase>\n`;
  return (
    `${open}>\n      <failure type="${r.level}" message="${escapeAttr(r.message ?? 'failed')}">` +
    `${escapeText(failureDetails(r).join('\n'))}</failure>\n    </testcase>\n`
  );
}

/** JUnit XML as GitLab, Jenkins and GitHub read it: one testsuite per run, failures with the transcript. */
export async function* junitReporter(events: EventSource): AsyncGenerator<string> {
  const all = await collect(events);
  const plan = all.find((e) => e.type === 'plan') as
    { dialect: string; target: string; cases: CaseInfo[] } | undefined;
  const summary = (all.find((e) => e.type === 'end') as { summary: RunSummary } | undefined)?.summary;
  const results = all.flatMap((e) => (e.type === 'result' ? [e.result] : []));
  const unreachable = all.find((e) => e.type === 'unreachable');
  const dialect = plan?.dialect ?? 'conform';
  const failures = results.filter((r) => r.outcome === 'failed').length;
  const skipped = results.filter((r) => r.outcome === 'skipped').length;
  const errors = unreachable ? 1 : 0;
  const tests = results.length + errors;
  const time = seconds(summary?.durationMs ?? 0);
  const counts = `tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time}"`;
  yield '<?xml version="1.0" encoding="UTF-8"?>\n';
  yield `<testsuites name="mensageiro conform" ${counts}>\n`;
  yield `  <testsuite name="${escapeAttr(`${dialect} ${plan?.target ?? ''}`)}" ${counts}>\n`;
  if (summary)
    yield `    <properties>\n      <property name="summary" value="${escapeAttr(summaryLine(summary))}"/>\n    </properties>\n`;
  if (unreachable?.type === 'unreachable') {
    yield `    <testcase classname="conform.${escapeAttr(dialect)}" name="target reachable" time="0.000">\n`;
    yield `      <error type="unreachable" message="${escapeAttr(`cannot reach ${unreachable.target}: ${unreachable.error}`)}"/>\n    </testcase>\n`;
  }
  for (const r of results) yield testcase(dialect, r);
  yield '  </testsuite>\n</testsuites>\n';
}
