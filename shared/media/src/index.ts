/** @sync-analyzer/media: the ffmpeg / ffprobe adapter (probe, audio selection, PCM decode). */
export { nullLogger } from './logger.ts';
export type { MediaLogger } from './logger.ts';
export { AbortedError, DecodeError, MediaInputError, ToolMissingError, isInputError, lastLines } from './errors.ts';
export { TailBuffer, stopChild, spawnError, KILL_GRACE_MS } from './proc.ts';
export type { MediaInputErrorCode } from './errors.ts';
export { checkTools, resolveTools } from './tools.ts';
export type { MediaTools, ToolVersions } from './tools.ts';
export { checkInputFile, frameRateLabel, parseProbeJson, probeMedia } from './probe.ts';
export type { AudioStreamInfo, ProbeOptions, ProbeResult } from './probe.ts';
export { layoutChannels, mainStream, mixWeights, planAudioInput } from './selection.ts';
export type { AudioPlan, AudioSelection, PlanOptions } from './selection.ts';
export { decodePcm, readWindow } from './decode.ts';
export type { DecodeOptions, DecodeResult, WindowOptions } from './decode.ts';
