// The library: everything a program needs to compose its own pipelines.

export { runDashboardPipeline } from '../pipelines/dashboard.js';
export { fileBatch } from '../pipelines/fileBatch.js';
export { liveFeeds } from '../pipelines/liveFeeds.js';
// Scale-out over NATS
export * from './cluster/index.js';
export { parseViTConfig, readViTConfigFile, type ViTConfig, vitDims } from './engine/config.js';
export { type GpuContext, listAdapters, openGpu } from './engine/gpu.js';
// Engine
export { type OpenEngineOptions, openEngine } from './engine/open.js';
export { topK } from './engine/postprocess.js';
export { imagenetLabels, PRESET_NAMES, resolveModel } from './engine/presets.js';
export { createCpuEngine, referenceForward } from './engine/reference.js';
export { readTuningCache, tunedPolicy, tuneModel, writeTuningCache } from './engine/tuning.js';
export type { Backend, Engine, EngineInput, Precision, Tensor, ViTWeights } from './engine/types.js';
export { WebGpuEngine, type WebGpuEngineOptions } from './engine/webgpu-engine.js';
export { inferConfigFromWeights, loadWeights } from './engine/weights/index.js';
export * from './errors.js';
// Weights by name
export * from './models/index.js';
export { type BatchOptions, batchFrames } from './operators/batchFrames.js';
// Predictions out
export { type ClassifyOptions, classify } from './operators/classify.js';
// Video in
export { type DecodeOptions, type DropPolicy, decodeFrames } from './operators/decodeFrames.js';
export { reconnect } from './operators/reconnect.js';
export { type SampleOptions, sampleFrames } from './operators/sampleFrames.js';
export type { Prediction, TopClass } from './predictions.js';
export { parseServeConfig, readServeConfig, type ServeConfig } from './serve-config.js';
export * from './server/index.js';
export { openPredictionFile, openPredictionStream } from './sinks/file.js';
export type { SourceEvent } from './video/events.js';
export { resolveFfmpeg } from './video/ffmpeg.js';
export type { Frame, FrameBatch, FrameInfo } from './video/frame.js';
export { openSource } from './video/live.js';
export type { VideoSource } from './video/source.js';
