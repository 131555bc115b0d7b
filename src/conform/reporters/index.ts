import { gradescopeReporter } from './gradescope.js';
import { junitReporter } from './junit.js';
import type { Reporter } from './summary.js';
import { tableReporter } from './table.js';
import { tapReporter } from './tap.js';

export type ReporterName = 'table' | 'tap' | 'junit' | 'json';
export const REPORTER_NAMES: readonly ReporterName[] = ['table', 'tap', 'junit', 'json'];

export function reporterFor(name: ReporterName, colour: boolean): Reporter {
  switch (name) {
    case 'tap':
      return tapReporter;
    case 'junit':
      return junitReporter;
    case 'json':
      return gradescopeReporter;
    case 'table':
      return tableReporter({ colour });
  }
}

export { summaryLine } from './summary.js';
