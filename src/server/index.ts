export { type AccessRules, checkAccess, tokenMatches } from './auth.js';
export type { ClientSnapshot } from './client.js';
export { Hub, type HubOptions, type PublishOptions, type ThumbnailSource } from './hub.js';
export { createMetrics, type MetricsOptions, type ServerMetrics } from './metrics.js';
export * from './protocol.js';
export { createServer, type ServerOptions, type VitstreamServer } from './server.js';
export { PipelineStats, type PipelineStatsOptions } from './stats.js';
export { downscaleRgb, encodePng, type RgbImage, thumbnailDataUrl } from './thumbnail.js';
export { SlidingWindow } from './window.js';
