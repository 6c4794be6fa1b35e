export { analyzeFiles, analyzePrepared, monotonic, prepareMedia, preparePair, probePair, mediaInfo, StageClock, DEFAULT_ANALYSIS_RATE, DEFAULT_MAX_DURATION_SECONDS } from './analyze-files.ts';
export type { AnalyzeFilesOptions, AnalysisProgress, PreparedMedia } from './analyze-files.ts';
export { checkChannels } from './channel-check.ts';
export type { ChannelCheckOptions } from './channel-check.ts';
export { PreparedCache, prepareMediaCached } from './prepared-cache.ts';
export { speechStream, SPEECH_RATE } from './speech.ts';
export type { SpeechBackend, SpeechStream } from './speech.ts';
export { openSpeechBackend } from './vad-backend.ts';
export type { SpeechBackendOptions } from './vad-backend.ts';
