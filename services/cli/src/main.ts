// sync-analyzer CLI. Exit codes: 0 analysed (whatever the verdict), 2 bad input or usage,
// 1 internal error (including missing ffmpeg).
import { Command, CommanderError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { pino } from 'pino';
import { analyzeFiles, analyzePrepared, checkChannels, monotonic, openSpeechBackend, prepareMedia, probePair, type AnalysisProgress } from '@sync-analyzer/analysis';
import { FRAME_RATE_KEYS, SCHEMA_VERSION, type AllStreamsResult, type FrameRateKey, type PartialParams } from '@sync-analyzer/engine';
import { checkTools, isInputError, probeMedia, resolveTools, ToolMissingError, type MediaLogger } from '@sync-analyzer/media';
import { formatChannels, formatSummary } from './summary.ts';
import { toSelection, UsageError } from './selection-options.ts';
import { registerClientCommands } from './client/commands.ts';

interface AnalyzeFlags {
  json?: boolean;
  progress: boolean;
  masterStream?: string;
  masterChannel?: string;
  dubStream?: string;
  dubChannel?: string;
  mix?: boolean;
  allStreams?: boolean;
  frameRate?: FrameRateKey;
  inSyncFrames?: string;
  driftMinFrames?: string;
  logLevel: string;
  vad: boolean;
  dialogueThresholdFrames?: string;
  provider: 'cpu' | 'cuda';
  vadRate?: '8000' | '16000';
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('sync-analyzer')
    .description('Master vs dub audio sync: offset, drift, edit map, calibrated confidence')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let exitCode = 0;

  program
    .command('analyze')
    .description('analyse a dub against its master')
    .argument('<master>', 'master media file (any format ffmpeg reads)')
    .argument('<dub>', 'dub media file')
    .option('--json', 'print one JSON result document on stdout')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--master-stream <n>', 'master audio stream (0-based among audio streams)')
    .option('--master-channel <n>', 'use one channel of the master stream (0-based)')
    .option('--dub-stream <n>', 'dub audio stream (0-based among audio streams)')
    .option('--dub-channel <n>', 'use one channel of the dub stream (0-based)')
    .option('--mix', 'layout-aware mono mix (centre down-weighted) for streams picked automatically (the default)')
    .option('--all-streams', 'check every audio stream of the dub, one verdict per track')
    .addOption(new Option('--frame-rate <key>', 'reference frame rate when the master has no video').choices([...FRAME_RATE_KEYS]))
    .option('--in-sync-frames <n>', 'offsets under this many frames are in sync (default 1)')
    .option('--drift-min-frames <n>', 'drift over the programme reported from this many frames (default 1)')
    .option('--no-vad', 'no speech detection (and so no dialogue timing QC); matching then weighs speech like everything else')
    .option('--dialogue-threshold-frames <n>', 'flag dialogue lines whose start or end is off by this many frames or more (default 2)')
    .addOption(new Option('--provider <provider>', 'ONNX Runtime execution provider for the speech model').choices(['cpu', 'cuda']).default(process.env.INFERENCE_PROVIDER === 'cuda' ? 'cuda' : 'cpu'))
    .addOption(new Option('--vad-rate <hz>', 'speech model input rate (16000: Silero\'s primary rate; 8000: half the cost; default 16000 with --provider cuda, else 8000, or SPEECH_SAMPLE_RATE)').choices(['8000', '16000']))
    .option('--log-level <level>', 'log level on stderr (debug, info, warn, error)', 'warn')
    .action(async (master: string, dub: string, flags: AnalyzeFlags) => {
      exitCode = await analyzeCommand(master, dub, flags);
    });

  program
    .command('probe')
    .description('print what a media file holds (streams, layout, frame rate, timecode)')
    .argument('<file>')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(async (file: string, flags: { logLevel: string }) => {
      const tools = resolveTools();
      await checkTools(tools);
      const probe = await probeMedia(file, { tools, logger: makeLogger(flags.logLevel) });
      process.stdout.write(JSON.stringify(probe, null, 2) + '\n');
    });

  // submit, status, batch, repair: the same work through a running Sync Analyzer API.
  registerClientCommands(program, (code) => (exitCode = code));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    return reportError(e);
  }
}

async function analyzeCommand(masterPath: string, dubPath: string, flags: AnalyzeFlags): Promise<number> {
  const logger = makeLogger(flags.logLevel);
  const tools = resolveTools();
  await checkTools(tools);
  const params = verdictParams(flags);
  const masterSelection = toSelection({ stream: flags.masterStream, channel: flags.masterChannel, mix: flags.mix }, 'master');
  if (flags.allStreams && (flags.dubStream !== undefined || flags.dubChannel !== undefined)) {
    throw new UsageError('--all-streams checks every dub stream: it cannot be combined with --dub-stream or --dub-channel');
  }
  const dubSelection = toSelection({ stream: flags.dubStream, channel: flags.dubChannel, mix: flags.mix }, 'dub');
  const bar = flags.progress && process.stderr.isTTY ? new ProgressBar() : null;
  const onProgress = monotonic((p: AnalysisProgress) => bar?.update(p));
  const dtf = flags.dialogueThresholdFrames === undefined ? undefined : Number(flags.dialogueThresholdFrames);
  if (dtf !== undefined && !(dtf > 0)) throw new UsageError(`--dialogue-threshold-frames must be a positive number, got "${flags.dialogueThresholdFrames}"`);
  // The speech model runs in a worker thread, so the progress bar keeps moving.
  const speech = flags.vad
    ? await openSpeechBackend({ provider: flags.provider, allowCpuFallback: process.env.INFERENCE_ALLOW_CPU_FALLBACK === 'true', modelDir: process.env.MODEL_DIR || null, threads: null, sampleRate: vadRate(flags), logger })
    : null;
  const opts = { tools, logger, params, onProgress, masterSelection, dubSelection, speech, ...(dtf !== undefined ? { dialogueThresholdFrames: dtf } : {}) };
  try {
    if (!flags.allStreams) {
      const result = await analyzeFiles(masterPath, dubPath, opts);
      bar?.stop();
      process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : formatSummary(result) + '\n');
      return 0;
    }
    const [mp, dp] = await probePair(masterPath, dubPath, opts);
    const doc: AllStreamsResult = { schema_version: SCHEMA_VERSION, tracks: [] };
    const streams = dp.audioStreams;
    const master = await prepareMedia(mp, masterSelection, opts, (f) => onProgress({ stage: 'decode master', percent: (f * 100) / (streams.length + 1) }));
    for (const [i, s] of streams.entries()) {
      const share = (f: number) => ((i + 1 + f) * 100) / (streams.length + 1);
      const dub = await prepareMedia(dp, { kind: 'stream', audioIndex: s.audioIndex }, opts, (f) => onProgress({ stage: `decode dub stream ${s.audioIndex}`, percent: share(f * 0.5) }));
      const result = await analyzePrepared(master, dub, { ...opts, onProgress: (p) => onProgress({ stage: `stream ${s.audioIndex}: ${p.stage}`, percent: share(0.5 + p.percent / 200) }) });
      const channels = await checkChannels(result, master, dub, opts);
      doc.tracks.push({ audio_index: s.audioIndex, description: dub.decoded.description, result, channels });
    }
    bar?.stop();
    if (flags.json) process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    else for (const t of doc.tracks) process.stdout.write(`=== dub audio stream ${t.audio_index}: ${t.description}\n${formatSummary(t.result)}\n${formatChannels(t.channels)}\n`);
    return 0;
  } finally {
    bar?.stop();
    await speech?.close();
  }
}

function verdictParams(flags: AnalyzeFlags): PartialParams {
  const num = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a non-negative number, got "${v}"`);
    return n;
  };
  const verdict: Record<string, unknown> = {};
  if (flags.frameRate) verdict.defaultFrameRate = flags.frameRate;
  const isf = num(flags.inSyncFrames, '--in-sync-frames');
  if (isf !== undefined) verdict.inSyncFrames = isf;
  const dmf = num(flags.driftMinFrames, '--drift-min-frames');
  if (dmf !== undefined) verdict.driftMinFrames = dmf;
  return Object.keys(verdict).length ? { verdict } : {};
}

function makeLogger(level: string): MediaLogger {
  return pino({ level, base: { app: 'sync-analyzer-cli' } }, pino.destination(2));
}

function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // Help and version exit 0; usage mistakes are bad input.
    return e.exitCode === 0 ? 0 : 2;
  }
  if (isInputError(e) || e instanceof UsageError) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 2;
  }
  if (e instanceof ToolMissingError) {
    process.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
}

class ProgressBar {
  private readonly bar = new cliProgress.SingleBar(
    { format: '{bar} {percentage}% | {stage}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  private started = false;
  update(p: AnalysisProgress): void {
    if (!this.started) {
      this.bar.start(100, 0, { stage: p.stage });
      this.started = true;
    }
    this.bar.update(Math.round(p.percent), { stage: p.stage });
  }
  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }
}

process.exitCode = await main(process.argv.slice(2));

/** --vad-rate, else SPEECH_SAMPLE_RATE, else 16 kHz on the GPU provider and 8 kHz on the CPU (as the service's config). */
function vadRate(flags: { vadRate?: '8000' | '16000'; provider: 'cpu' | 'cuda' }): 8000 | 16000 {
  const env = process.env.SPEECH_SAMPLE_RATE;
  const set = flags.vadRate ?? (env === '8000' || env === '16000' ? env : undefined);
  if (set) return set === '16000' ? 16000 : 8000;
  return flags.provider === 'cuda' ? 16000 : 8000;
}
