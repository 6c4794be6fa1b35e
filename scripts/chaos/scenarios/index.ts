// Every chaos scenario, in the order the suite runs them. Add a scenario here (one file each).
import type { Scenario } from '../scenario.ts';
import { workerSigkill } from './worker-sigkill.ts';
import { workerSigterm } from './worker-sigterm.ts';
import { redisSigkill } from './redis-sigkill.ts';
import { redisOutage } from './redis-outage.ts';
import { apiSigkill } from './api-sigkill.ts';
import { apiLoad } from './api-load.ts';
import { throughput } from './throughput.ts';
import { dbBusy } from './db-busy.ts';
import { diskFull } from './disk-full.ts';
import { backupUnderLoad } from './backup-under-load.ts';

export const SCENARIOS: readonly Scenario[] = [workerSigkill, workerSigterm, redisSigkill, redisOutage, apiSigkill, apiLoad, throughput, dbBusy, diskFull, backupUnderLoad];
