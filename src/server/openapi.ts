/**
 * The OpenAPI 3.1 description served at `/api/openapi.json`: hand-written, and kept to exactly the endpoints
 * app.ts serves (openapi.test.ts compares the two).
 */
import { MAX_YAML_BYTES } from './bodies.ts';
import { DEFAULT_LIMIT, MAX_LIMIT, RUN_STATUSES } from './runs.ts';

const settings = {
  inputs: { type: 'object', description: 'The workflow\'s inputs by name, as typed values' },
  maxConcurrency: { type: 'integer', minimum: 1, description: 'As `--max-concurrency`' },
  model: { type: 'string', description: 'As `--model` (provider:model)' },
  maxCost: { type: 'number', exclusiveMinimum: 0, description: 'As `--max-cost`, US dollars' },
} as const;

const error = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string' }, hint: { type: 'string' } },
} as const;

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
const json = (description: string, schema: object) => ({ description, content: { 'application/json': { schema } } });
const common = { '401': errorResponse('Missing or wrong token (only when the server was started with CONDUCTOR_SERVE_TOKEN)'), '503': errorResponse('The run store cannot be used, or the server is shutting down') };
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
const body = (ref: string, required: boolean) => ({ required, content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });

export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: { title: 'Conductor server', version: '0.2.0', description: '`conductor serve`: workflows under the root and their plans; runs started, followed (Server-Sent Events), cancelled and resumed; recorded runs.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The value of CONDUCTOR_SERVE_TOKEN; required when the server was started with it' } },
      schemas: {
        Error: error,
        Diagnostic: {
          type: 'object',
          required: ['file', 'line', 'column', 'code', 'message', 'hint', 'severity'],
          properties: {
            file: { type: 'string' },
            line: { type: 'integer' },
            column: { type: 'integer' },
            code: { type: 'string' },
            message: { type: 'string' },
            hint: { type: ['string', 'null'] },
            severity: { enum: ['error', 'warning'] },
            docs: { type: 'string', description: 'The docs page that says more, as a path in the package (docs/language.md#if)' },
          },
        },
        WorkflowEntry: {
          type: 'object',
          required: ['path', 'valid', 'problems', 'warnings'],
          properties: { path: { type: 'string' }, valid: { type: 'boolean' }, problems: { type: 'integer' }, warnings: { type: 'integer' } },
        },
        StartRun: {
          type: 'object',
          description: 'Exactly one of `workflow` and `yaml`. A posted `yaml` workflow may use only steps that need nothing of the server\'s machine (llm, http) and may not read its environment.',
          properties: {
            workflow: { type: 'string', description: 'A workflow file relative to the root' },
            yaml: { type: 'string', maxLength: MAX_YAML_BYTES, description: 'A workflow as text' },
            ...settings,
          },
          additionalProperties: false,
        },
        ResumeRun: {
          type: 'object',
          properties: { from: { type: 'string', description: 'Re-run this step and everything downstream of it, even if it succeeded' }, ...settings },
          additionalProperties: false,
        },
        Started: { type: 'object', required: ['runId'], properties: { runId: { type: 'string' }, resumedFrom: { type: 'string' } } },
        Problems: {
          type: 'object',
          required: ['error', 'problems'],
          properties: { error: { type: 'string' }, hint: { type: 'string' }, problems: { type: 'array', items: { $ref: '#/components/schemas/Diagnostic' } } },
        },
        Report: {
          type: 'object',
          description: 'The run in the shape `conductor run --json` prints (status may also be `running` or `interrupted`; a step `pending` or `running`), with `inputs`, `resumedFrom`, `live` (running on this server), `stepCount`, `stepsDone`, and per step `dependsOn`, `usage`, `itemCount` and `items`',
          required: ['runId', 'workflow', 'status', 'startedAt', 'steps', 'outputs', 'usage', 'cost', 'inputs', 'live', 'stepCount', 'stepsDone'],
          properties: { runId: { type: 'string' }, workflow: { type: 'string' }, status: { enum: RUN_STATUSES }, steps: { type: 'object', additionalProperties: { type: 'object' } }, live: { type: 'boolean' } },
        },
        Run: { type: 'object', description: 'A run as recorded (as `conductor runs --json` lists it)', required: ['id', 'workflow', 'status', 'startedAt'], properties: { id: { type: 'string' }, workflow: { type: 'string' }, status: { enum: RUN_STATUSES } } },
      },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/api/openapi.json': { get: { summary: 'This document', responses: { '200': json('The OpenAPI document', { type: 'object' }), ...common } } },
      '/api/workflows': {
        get: {
          summary: 'Workflow files under the root, each with its validation status',
          responses: {
            '200': json('The files (at most 2,000 entries are looked at; `truncated` when the walk stopped)', {
              type: 'object',
              required: ['workflows'],
              properties: { workflows: { type: 'array', items: { $ref: '#/components/schemas/WorkflowEntry' } }, truncated: { type: 'boolean' } },
            }),
            ...common,
          },
        },
      },
      '/api/workflows/{path}/plan': {
        get: {
          summary: 'What the workflow will do, as `conductor plan --format json` prints it',
          parameters: [{ name: 'path', in: 'path', required: true, description: 'The file relative to the root (may hold `/`; percent-encoded)', schema: { type: 'string' } }],
          responses: {
            '200': json('The plan', { type: 'object' }),
            '403': errorResponse('A path outside the root (absolute, `..`, a symlink leading out) or not a .yaml/.yml file'),
            '404': errorResponse('No such file under the root'),
            '422': json('The workflow is invalid: its problems as `conductor validate --json` gives them', {
              type: 'object',
              required: ['error', 'problems'],
              properties: { error: { type: 'string' }, hint: { type: 'string' }, problems: { type: 'array', items: { $ref: '#/components/schemas/Diagnostic' } } },
            }),
            ...common,
          },
        },
      },
      '/api/runs': {
        post: {
          summary: 'Start a run, as `conductor run` would: the same store, history, limits (and workers, with --queue)',
          requestBody: body('StartRun', true),
          responses: {
            '202': json('Started: follow it at /api/runs/{runId}/events', { $ref: '#/components/schemas/Started' }),
            '400': errorResponse('A bad body, or a setting `conductor run` would refuse'),
            '403': errorResponse('A workflow path outside the root'),
            '404': errorResponse('No such workflow file'),
            '413': errorResponse('The body is too large'),
            '422': json('The workflow or its inputs are invalid: the problems `conductor validate --json` gives, located', { $ref: '#/components/schemas/Problems' }),
            ...common,
          },
        },
        get: {
          summary: 'Recorded runs, newest first',
          parameters: [
            { name: 'status', in: 'query', schema: { enum: RUN_STATUSES } },
            { name: 'workflow', in: 'query', description: 'The workflow path as recorded, or relative to the root', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          ],
          responses: {
            '200': json('A page of runs; `total` when every matching run was counted', {
              type: 'object',
              required: ['runs'],
              properties: { runs: { type: 'array', items: { $ref: '#/components/schemas/Run' } }, total: { type: 'integer' } },
            }),
            '400': errorResponse('A bad query value'),
            ...common,
          },
        },
      },
      '/api/runs/{id}': {
        get: {
          summary: 'One run (recorded, or running here) in the `conductor run --json` report shape',
          parameters: idParam,
          responses: { '200': json('The run', { $ref: '#/components/schemas/Report' }), '404': errorResponse('No such run'), ...common },
        },
      },
      '/api/runs/{id}/events': {
        get: {
          summary: 'Every event of the run as Server-Sent Events: the past ones replayed, then live; the stream ends after `run:end`',
          description: 'Each event: `id` (1, 2, … per run), `event` (its type: run:start, step:start, step:items, item:start, item:end, step:notice, step:end, run:end) and `data` (the event as JSON, as the engine emits it). Send `Last-Event-ID` (or `?after=`) to get only what came after that id. A run running in another process is replayed as recorded so far, with `retry` telling when to come back for more.',
          parameters: [...idParam, { name: 'Last-Event-ID', in: 'header', schema: { type: 'integer', minimum: 0 } }, { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0 } }],
          responses: { '200': { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '400': errorResponse('A bad Last-Event-ID'), '404': errorResponse('No such run'), ...common },
        },
      },
      '/api/runs/{id}/steps/{step}/history': {
        get: {
          summary: 'One step in this run and in the earlier runs of the same workflow, newest first: status, duration, attempts, cost, error, fingerprint (a changed fingerprint: the step changed)',
          parameters: [...idParam, { name: 'step', in: 'path', required: true, schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50, default: 20 } }],
          responses: {
            '200': json('The history', { type: 'object', required: ['stepId', 'workflow', 'history'], properties: { stepId: { type: 'string' }, workflow: { type: 'string' }, history: { type: 'array', items: { type: 'object', required: ['runId', 'runStatus', 'status', 'fingerprint'] } } } }),
            '400': errorResponse('A bad limit'),
            '404': errorResponse('No such run, or no such step in it'),
            ...common,
          },
        },
      },
      '/api/runs/{id}/cancel': {
        post: {
          summary: 'Cancel a run this server is running, as Ctrl-C does: in-flight steps are aborted, nothing new starts',
          parameters: idParam,
          responses: {
            '202': json('Cancelling: the run ends `cancelled` (its events say when)', { type: 'object', required: ['runId', 'status'], properties: { runId: { type: 'string' }, status: { const: 'cancelling' } } }),
            '404': errorResponse('No such run'),
            '409': errorResponse('The run has ended, or runs in another process'),
            ...common,
          },
        },
      },
      '/api/runs/{id}/resume': {
        post: {
          summary: 'Resume a run as `conductor resume` does: what succeeded is reused, the rest runs (a new run)',
          parameters: idParam,
          requestBody: body('ResumeRun', false),
          responses: {
            '202': json('The new run', { $ref: '#/components/schemas/Started' }),
            '400': errorResponse('A bad body, an unknown `from` step, or a secret input to give again'),
            '403': errorResponse('The run\'s workflow is not under the root'),
            '404': errorResponse('No such run'),
            '409': errorResponse('The run is still running'),
            '422': json('The workflow or the inputs are invalid now', { $ref: '#/components/schemas/Problems' }),
            ...common,
          },
        },
      },
    },
  };
}
