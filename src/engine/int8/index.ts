import type { ViTConfig } from '../config.js';
import type { GpuContext, OpenGpuOptions } from '../gpu.js';
import type { ViTWeights } from '../types.js';
import { Int8Engine, type Int8EngineOptions } from './int8-engine.js';
import type { Int8Mode } from './int8-plan.js';
import type { Int8Scales } from './scales.js';

export { type CalibrateOptions, calibrate, weightScales } from './calibrate.js';
export { Int8Engine, type Int8EngineOptions } from './int8-engine.js';
export type { Int8Mode } from './int8-plan.js';
export { defaultTile, type Int8GemmPolicy, int8Shapes } from './int8-policy.js';
export {
  type CalibrationMethod,
  defaultScalesPath,
  INT8_ROLES,
  type Int8Role,
  type Int8Scales,
  readScales,
  writeScales,
} from './scales.js';

export interface OpenInt8EngineOptions {
  config: ViTConfig;
  weights: ViTWeights;
  scales: Int8Scales;
  mode: Int8Mode;
  maxBatch?: number;
  gpu?: GpuContext;
  gpuOptions?: OpenGpuOptions;
  gemm?: Int8EngineOptions['gemm'];
}

/** `--precision int8 --int8-mode 1|2`: an Engine (precision 'int8') with its INT8 mode. */
export function openInt8Engine(o: OpenInt8EngineOptions): Promise<Int8Engine> {
  return Int8Engine.open(o);
}
