import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Where the time went, from a V8 .cpuprofile: self time per function, top entries first. */
export function summarizeProfile(dir: string, top = 15): string {
  const all = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  // Node names them CPU.<date>.<time>.<pid>.<thread>.<n>: thread 0 is the event loop; others are workers.
  const files = all.filter((f) => f.split('.')[4] === '0');
  if (files.length === 0) return `no event-loop .cpuprofile in ${dir}`;
  const totals = new Map<string, number>();
  let samples = 0;
  for (const file of files) {
    const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { nodes: ProfileNode[] };
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url ? `${path.basename(url)}:${lineNumber + 1}` : '';
      const key = `${functionName || '(anonymous)'} ${where}`.trim();
      totals.set(key, (totals.get(key) ?? 0) + hits);
      samples += hits;
    }
  }
  const rows = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    'event-loop self time (share of samples), top functions:',
    ...rows.map(([name, hits]) => `  ${((hits / samples) * 100).toFixed(1).padStart(5)}%  ${name}`),
  ].join('\n');
}
