/**
 * A workflow file checked as `conductor validate` checks it, and its problems and warnings in the shape
 * `validate --json` prints. Shared by the command and the server, so the two can never disagree.
 */
import { WorkflowInvalidError, type Diagnostic } from '../core/errors.ts';
import { checkWorkflow, readWorkflowFile, type LoadOptions } from '../definition/load.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { docsFor } from '../report/docs.ts';

export interface FileCheck {
  problems: Diagnostic[];
  warnings: Diagnostic[];
  /** The text read (absent when the file could not be read or decoded). */
  text?: string;
  /** The validated workflow, when it has no problems. */
  spec?: WorkflowSpec;
}

/** One entry of `validate --json`. */
export interface DiagnosticJson {
  file: string;
  line: number;
  column: number;
  code: string;
  message: string;
  hint: string | null;
  severity: 'error' | 'warning';
  /** The docs page (and heading) that says more, as a path in the package: `docs/language.md#if`. */
  docs?: string;
}

/** Reads and checks `file` (an absolute path); an unreadable file is a problem, not a throw. */
export async function checkFile(file: string, options: LoadOptions = {}): Promise<FileCheck> {
  try {
    const text = await readWorkflowFile(file);
    const result = checkWorkflow(text, file, options);
    return result.ok ? { problems: [], warnings: result.warnings, text, spec: result.spec } : { problems: result.diagnostics, warnings: result.warnings, text };
  } catch (error) {
    if (!(error instanceof WorkflowInvalidError)) throw error;
    return { problems: [...error.diagnostics], warnings: [] };
  }
}

/**
 * Problems and warnings together, in file order (a warning often explains the problem beside it), each file
 * shown through `show` (the command shows paths from the current folder, the server from its root).
 */
export function shownDiagnostics(check: Pick<FileCheck, 'problems' | 'warnings'>, show: (file: string) => string): Diagnostic[] {
  return [...check.problems.map((d) => ({ ...d, severity: 'error' as const })), ...check.warnings]
    .sort((a, b) => a.line - b.line || a.column - b.column)
    .map((d) => ({ ...d, file: show(d.file) }));
}

/** The `validate --json` entries. */
export function diagnosticsJson(shown: readonly Diagnostic[]): DiagnosticJson[] {
  return shown.map((d) => {
    const docs = docsFor(d.code);
    return { file: d.file, line: d.line, column: d.column, code: d.code, message: d.message, hint: d.hint ?? null, severity: d.severity ?? 'error', ...(docs ? { docs } : {}) };
  });
}
