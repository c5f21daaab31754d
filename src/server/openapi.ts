/**
 * The OpenAPI 3.1 description served at `/api/openapi.json`: hand-written, and kept to exactly the endpoints
 * app.ts serves (openapi.test.ts compares the two).
 */
import { DEFAULT_LIMIT, MAX_LIMIT, RUN_STATUSES } from './runs.ts';

const error = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string' }, hint: { type: 'string' } },
} as const;

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
const json = (description: string, schema: object) => ({ description, content: { 'application/json': { schema } } });
const common = { '401': errorResponse('Missing or wrong token (only when the server was started with CONDUCTOR_SERVE_TOKEN)'), '503': errorResponse('The run store cannot be read') };

export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: { title: 'Conductor server', version: '0.1.0', description: 'Read-only first slice of `conductor serve`: workflows under the root, their plans, and recorded runs.' },
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
          },
        },
        WorkflowEntry: {
          type: 'object',
          required: ['path', 'valid', 'problems', 'warnings'],
          properties: { path: { type: 'string' }, valid: { type: 'boolean' }, problems: { type: 'integer' }, warnings: { type: 'integer' } },
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
          summary: 'One recorded run with its steps, as `conductor runs show --json` prints it',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': json('The run and its steps', { type: 'object', required: ['run', 'steps'], properties: { run: { $ref: '#/components/schemas/Run' }, steps: { type: 'array', items: { type: 'object' } } } }),
            '404': errorResponse('No such run'),
            ...common,
          },
        },
      },
    },
  };
}
