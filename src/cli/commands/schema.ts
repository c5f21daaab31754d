import { defaultActions } from '../../compose.ts';
import { workflowJsonSchema } from '../../definition/schema.ts';
import { EXIT } from '../io.ts';
import type { Command } from '../main.ts';

export const schemaCommand: Command = {
  usage: 'conductor schema',
  options: {},
  async run(_args, io) {
    io.stdout.write(JSON.stringify(workflowJsonSchema(defaultActions()), null, 2) + '\n');
    return EXIT.ok;
  },
};
