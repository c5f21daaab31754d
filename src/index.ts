/** Conductor's library API. The CLI is a thin layer over exactly these. */
export { loadWorkflow, parseWorkflow, checkWorkflow, type LoadOptions, type CheckResult } from './definition/load.ts';
export { workflowJsonSchema } from './definition/schema.ts';
export type { WorkflowSpec, StepSpec, InputSpec, WorkflowConfig } from './definition/types.ts';
export { runWorkflow, type RunOptions } from './scheduler/run.ts';
export type { Plan, PlanStep, EdgeReason } from './graph/plan.ts';
export { ConductorError, WorkflowInvalidError, UsageError, StepFailedError, type Diagnostic, type SourceLocation } from './core/errors.ts';
export type { RunEvent, RunEventListener } from './core/events.ts';
export type { RunReport, StepReport } from './core/report.ts';
export type { StepStatus, FinalStepStatus, RunStatus } from './core/status.ts';
export { ActionRegistry } from './actions/registry.ts';
export { builtinActions } from './actions/builtin.ts';
export type { ActionDefinition, ActionContext, ActionResult, Resource } from './actions/types.ts';
export type { RunStore, RunRecord, StepRecord, NewRun, StepResult, RecordedRunStatus } from './store/types.ts';
export { SqliteRunStore } from './store/sqlite.ts';
export { recorder } from './store/recorder.ts';
export { planResume, type ResumePlan } from './store/resume.ts';
export { runRedactor } from './scheduler/secrets.ts';
