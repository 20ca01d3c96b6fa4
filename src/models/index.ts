export { cacheRoot, entryCachePath, urlCachePath, weightsDir } from './cache.js';
export {
  CATALOG,
  type CatalogEntry,
  catalogEntry,
  checkpointsForPreset,
  DEFAULT_FOR_PRESET,
  DEFAULT_PRESET,
  entryForUrl,
  findCheckpoint,
  type WeightsFileFormat,
  type WeightsLayout,
} from './catalog.js';
export { type ConvertedDtype, convertedPath, ensureConverted, type WeightsConverter } from './convert.js';
export {
  type DownloadProgress,
  type DownloadTarget,
  type FetchWeightsOptions,
  fetchWeights,
  parseUrlSpec,
  targetFor,
} from './download.js';
export { defaultWeightsSpec, weightsBesideModel } from './model-folder.js';
export { type DownloadProgressReporter, downloadProgressReporter } from './progress.js';
export { type ResolvedWeights, resolveWeights, resolveWeightsDetailed } from './resolve.js';
