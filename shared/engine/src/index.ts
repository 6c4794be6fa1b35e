export * from './result.ts';
export { analyzePair, mergeParams, DEFAULT_PARAMS, ENGINE_NAME, ENGINE_VERSION } from './analyze.ts';
export type { EngineInput, EngineOutput, EngineParams, PartialParams, Progress, VerdictParams } from './analyze.ts';
export type { PcmTrack } from './pcm.ts';
export { framesTable, describeOffset, frameRateKeyFor, formatTimecode, offsetToFrames, FRAME_RATES } from './frames.ts';
export { detectHead, headMask } from './head.ts';
export { STANDARD_RATIOS } from './model.ts';
export { matchProbability, evidenceVector, MATCH_MODEL } from './confidence.ts';
export type { Evidence, LogisticModel } from './confidence.ts';
