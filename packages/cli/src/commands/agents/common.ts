// What the agents commands share: the catalog table.
import type { Agent } from '@genericcorp/sdk';
import type { Output } from '../../lib/output.js';
import { printTable } from '../../lib/table.js';

export function printAgents(out: Output, agents: Agent[]): void {
  printTable(
    out,
    [{ header: 'NAME' }, { header: 'KIND' }, { header: 'RUNTIME' }, { header: 'DESCRIPTION', shrink: true }],
    agents.map((a) => [a.name, a.kind, a.runtime, a.description.split('\n')[0] ?? '']),
    'No agents.',
  );
}
