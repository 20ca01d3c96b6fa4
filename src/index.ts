// The library: everything a program needs to compose its own pipelines, room by room in the order
// a frame travels. Sections are kept by hand (a sorter would interleave them).
// biome-ignore-all assist/source/organizeImports: sections by room, in the order data flows

// Video in
export type { SourceEvent } from './video/events.js';
export { resolveFfmpeg } from './video/ffmpeg.js';
export type { Frame, FrameBatch, FrameColor, FrameInfo } from './video/frame.js';
export { PIXEL_FORMATS, type PixelFormat } from './video/args.js';
export { HWACCELS, type Hwaccel, nvdecSupport } from './video/hwaccel.js';
export type { VideoSource } from './video/source.js';
export { type DecodeOptions, type DropPolicy, decodeFrames } from './video/decodeFrames.js';

// Operators
export { type BatchOptions, batchFrames } from './operators/batchFrames.js';
export { type ClassifyOptions, classify } from './operators/classify.js';
export { reconnect } from './operators/reconnect.js';
export { type SampleOptions, sampleFrames } from './operators/sampleFrames.js';

// Engine
export { parseViTConfig, readViTConfigFile, type ViTConfig, vitDims } from './engine/config.js';
export { type GpuContext, listAdapters, openGpu } from './engine/gpu.js';
export { type TopClass, topK } from './engine/postprocess.js';
export { createCpuEngine, referenceForward } from './engine/reference.js';
export { readTuningCache, tunedPolicy, tuneModel, writeTuningCache } from './engine/tuning.js';
export { beginBatch } from './engine/direct-batch.js';
export type {
  Backend,
  BatchRequest,
  DirectBatch,
  Engine,
  EngineInput,
  Precision,
  Tensor,
  ViTWeights,
  YuvColor,
} from './engine/types.js';
export { yuvFrameBytes, yuvToRgb, yuvToRgbBytes } from './engine/yuv.js';
export { WebGpuEngine, type WebGpuEngineOptions } from './engine/webgpu-engine.js';
export { inferConfigFromWeights, loadWeights } from './engine/weights/index.js';

// Models: presets, weights by name
export * from './models/index.js';
export { imagenetLabels, PRESET_NAMES, resolveModel } from './models/presets.js';

// Assembly: a model name in, a ready engine out
export { type OpenEngineOptions, openEngine } from './app/open-engine.js';

// Pipelines
export { runDashboardPipeline } from '../pipelines/dashboard.js';
export { fileBatch } from '../pipelines/fileBatch.js';
export { liveFeeds } from '../pipelines/liveFeeds.js';
export { openSource } from '../pipelines/liveSource.js';

// Scale-out over NATS
export * from './cluster/index.js';

// Predictions out: sinks and the server
export type { Prediction } from './predictions.js';
export { parseServeConfig, readServeConfig, type ServeConfig } from './serve-config.js';
export * from './server/index.js';
export { openPredictionFile, openPredictionStream } from './sinks/file.js';

// Errors
export * from './errors.js';
