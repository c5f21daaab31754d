/**
 * The events of a run this server did not start (or no longer keeps in memory), made from its record: the same
 * types and fields the run emitted, in the order of their times. Replayed for a finished run; for one still
 * running in another process, what is recorded so far (the client comes back with `Last-Event-ID` for the rest:
 * new results finish later, so they come after what it has).
 */
import type { RunEvent, UnitEnd } from '../core/events.ts';
import type { ItemRecord, RunRecord, StepRecord } from '../store/types.ts';
import { recordedFields, viewOfRecord } from './run-view.ts';
import type { RunReport } from '../core/report.ts';

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'not_run']);

export function eventsOfRecord(record: { run: RunRecord; steps: StepRecord[] }): RunEvent[] {
  const { run } = record;
  const runId = run.id;
  const steps = [...record.steps].sort((a, b) => a.position - b.position);
  const timed: { at: number; order: number; event: RunEvent }[] = [];
  let order = 0;
  const add = (at: number, event: RunEvent) => timed.push({ at, order: order++, event });
  const end = run.finishedAt ?? Date.now();
  for (const step of steps) {
    const stepId = step.stepId;
    if (step.startedAt !== undefined) add(step.startedAt, { type: 'step:start', runId, stepId, at: step.startedAt });
    if (step.itemCount !== undefined && step.startedAt !== undefined) add(step.startedAt, { type: 'step:items', runId, stepId, count: step.itemCount, at: step.startedAt });
    for (const item of step.items ?? []) {
      if (item.startedAt !== undefined) add(item.startedAt, { type: 'item:start', runId, stepId, index: item.index, at: item.startedAt });
      const at = item.finishedAt ?? item.startedAt ?? end;
      add(at, { type: 'item:end', stepId, index: item.index, key: item.key, status: item.status, ...unitEnd(runId, at, item) });
    }
    if (FINAL.has(step.status)) {
      const at = step.finishedAt ?? end;
      add(at, {
        type: 'step:end',
        stepId,
        status: step.status as Extract<RunEvent, { type: 'step:end' }>['status'],
        ...unitEnd(runId, at, step),
        ...(step.skipReason ? { skipReason: step.skipReason } : {}),
        ...(step.continued ? { continued: true as const } : {}),
        ...(step.items ? { items: step.items.map((i) => ({ index: i.index, status: i.status, attempts: i.attempts ?? 0, ...(i.error ? { error: i.error } : {}) })) } : {}),
      });
    }
  }
  timed.sort((a, b) => a.at - b.at || a.order - b.order);
  const events: RunEvent[] = [
    { type: 'run:start', runId, workflow: run.workflow, stepIds: steps.map((s) => s.stepId), maxConcurrency: run.options?.maxConcurrency ?? 0, inputs: run.inputs, ...(run.secretInputs?.length ? { secretInputs: run.secretInputs } : {}), at: run.startedAt },
    ...timed.map((t) => t.event),
  ];
  if (run.finishedAt !== undefined && run.status !== 'running' && run.status !== 'interrupted') {
    // The report as GET /api/runs/{id} gives it: the record's shape of `conductor run --json`.
    events.push({ type: 'run:end', runId, report: viewOfRecord(record, false) as unknown as RunReport, at: run.finishedAt });
  }
  return events;
}

function unitEnd(runId: string, at: number, unit: StepRecord | ItemRecord): UnitEnd {
  return {
    runId,
    at,
    ...recordedFields(unit),
    ...(unit.output === undefined ? {} : { output: unit.output }),
    ...(unit.properties ? { properties: unit.properties } : {}),
    ...(unit.reused ? { reused: true as const } : {}),
    ...(unit.redacted ? { redacted: true as const } : {}),
  };
}
