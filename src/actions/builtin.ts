import { fileAction } from './file/index.ts';
import { httpAction } from './http/index.ts';
import { llmAction } from './llm/index.ts';
import { ActionRegistry } from './registry.ts';
import { shellAction } from './shell/index.ts';

/** The actions every workflow can use. The one place concrete actions are listed. */
export function builtinActions(): ActionRegistry {
  return new ActionRegistry([llmAction, httpAction, fileAction, shellAction]);
}
