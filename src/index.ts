// The library: everything a program needs to compose its own pipelines.
export * from './errors.js';
export type { Prediction, TopClass } from './predictions.js';

// Engine
export { openEngine, type OpenEngineOptions } from './engine/open.js';
export { parseViTConfig, readViTConfigFile, vitDims, type ViTConfig } from './engine/config.js';
export { resolveModel, imagenetLabels, PRESET_NAMES } from './engine/presets.js';
export { loadWeights, inferConfigFromWeights } from './engine/weights/index.js';
export { referenceForward, createCpuEngine } from './engine/reference.js';
export { WebGpuEngine, type WebGpuEngineOptions } from './engine/webgpu-engine.js';
export { openGpu, listAdapters, type GpuContext } from './engine/gpu.js';
export { topK } from './engine/postprocess.js';
export { tuneModel, readTuningCache, writeTuningCache, tunedPolicy } from './engine/tuning.js';
export type { Engine, EngineInput, Precision, Backend, ViTWeights, Tensor } from './engine/types.js';

// Video in
export { decodeFrames, type DecodeOptions, type DropPolicy } from './operators/decodeFrames.js';
export { sampleFrames, type SampleOptions } from './operators/sampleFrames.js';
export { batchFrames, type BatchOptions } from './operators/batchFrames.js';
export { reconnect } from './operators/reconnect.js';
export { openSource } from './video/live.js';
export { resolveFfmpeg } from './video/ffmpeg.js';
export type { Frame, FrameBatch, FrameInfo } from './video/frame.js';
export type { VideoSource } from './video/source.js';
export type { SourceEvent } from './video/events.js';
export { fileBatch } from '../pipelines/fileBatch.js';
export { liveFeeds } from '../pipelines/liveFeeds.js';
export { runDashboardPipeline } from '../pipelines/dashboard.js';

// Predictions out
export { classify, type ClassifyOptions } from './operators/classify.js';
export { openPredictionFile, openPredictionStream } from './sinks/file.js';
export * from './server/index.js';
export { readServeConfig, parseServeConfig, type ServeConfig } from './serve-config.js';

// Weights by name
export * from './models/index.js';
