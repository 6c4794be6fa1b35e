// Operations tooling for the service: the healthcheck command, the supervisord event listener
// (native mode), the effective settings the shell tools read, and the env-file loader they share.
export { runHealthcheck, formatText, parseArgs, main as healthcheckMain, UsageError, USAGE } from './healthcheck.ts';
export type { HealthReport, HealthcheckOptions, CheckResult, CheckStatus, ServiceName, CliArgs } from './healthcheck.ts';
export { parseTokens, ProcessStatusTracker, runListener, ListenerProtocolError } from './supervisor-listener.ts';
export type { SupervisorEvent, ProcessStatus, StatusDocument, ExitRecord, FatalRecord, TrackerOptions } from './supervisor-listener.ts';
export { stackConfig, toLines, toDotenv, StackConfigError } from './stack-config.ts';
export type { StackConfig } from './stack-config.ts';
export { loadEnv, resolveFrom, redactUrl, EnvFileError, REPO_ROOT } from './env.ts';
export type { LoadedEnv } from './env.ts';
