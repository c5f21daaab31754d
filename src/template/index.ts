export * from './parse.ts';
export * from './value.ts';
