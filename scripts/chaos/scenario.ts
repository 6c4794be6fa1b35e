// What a chaos scenario is: a name, a description and a run() that drives a real stack and
// returns its result row. One scenario per file in scenarios/, registered in scenarios/index.ts.
import type { ScenarioRow } from './table.ts';

export interface ScenarioContext {
  /** The CI form: smaller counts, still every numeric minimum of the issue where possible. */
  bounded: boolean;
  /** Where the run's files go (chaos-out/); a scenario may write its own files under it. */
  outDir: string;
  /** A progress line on stderr, prefixed with the scenario's name and the elapsed time. */
  log(message: string): void;
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<ScenarioRow>;
}
