export { loadConfig, ConfigError } from './config.ts';
export type { Config } from './config.ts';
export * from './jobs.ts';
