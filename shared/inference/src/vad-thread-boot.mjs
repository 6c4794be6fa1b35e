// Worker-thread bootstrap: Node 20 does not apply `--import tsx` hooks to a worker's own
// entry module, so register tsx here (plain JS) and then load the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./vad-thread-entry.ts', import.meta.url).href);
