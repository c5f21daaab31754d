export * from './plan.ts';
export * from './resources.ts';
