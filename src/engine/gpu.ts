import { create, globals } from 'webgpu';
import { GpuUnavailableError } from '../errors.js';
import { DAWN_LIMIT_WARNING, filterNativeStderr } from './native-stderr.js';

/**
 * Dawn toggles: `vulkan_enable_f16_on_nvidia` makes NVIDIA's Vulkan driver expose shader-f16,
 * and `allow_unsafe_apis` exposes chromium-experimental-subgroup-matrix (tensor cores).
 * Without them an H100 looks like an FP32-only, SIMT-only device.
 */
const DAWN_FEATURES = ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia'];

/**
 * Robust buffer access clamps every array index in every shader; in the GEMM inner loops that
 * costs 1.4-1.7x on the H100 (tensor-core GEMMs at batch 32: qkv 1.15 -> 0.82 ms, fc1 1.99 ->
 * 1.09 ms). Every vitstream kernel bounds-checks its own global accesses (the tests size buffers
 * exactly to catch a missed check), so on GPUs it is off. On CPU adapters (lavapipe) it stays
 * on: there, shaders without it ran up to 7x slower in places. VITSTREAM_ROBUST_BUFFERS=1 or 0
 * forces it either way; VITSTREAM_DAWN_TOGGLES adds toggles (comma-separated).
 */
function dawnToggles(robust: boolean): string[] {
  const extra = (process.env.VITSTREAM_DAWN_TOGGLES ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return [
    `enable-dawn-features=${[...DAWN_FEATURES, ...(robust ? [] : ['disable_robustness']), ...extra].join(',')}`,
  ];
}

const constants = globals as { GPUBufferUsage: GPUFlagsConstantMap; GPUMapMode: GPUFlagsConstantMap };
interface GPUFlagsConstantMap {
  readonly [name: string]: number;
}
export const BufferUsage = constants.GPUBufferUsage as unknown as {
  MAP_READ: number;
  MAP_WRITE: number;
  COPY_SRC: number;
  COPY_DST: number;
  UNIFORM: number;
  STORAGE: number;
  QUERY_RESOLVE: number;
};
export const MapMode = constants.GPUMapMode as unknown as { READ: number; WRITE: number };

/** Features the engine uses when the adapter has them. */
const WANTED_FEATURES = [
  'shader-f16',
  'subgroups',
  'chromium-experimental-subgroup-matrix',
  'timestamp-query',
] as const;

export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** Adapter description for reports and cache keys. */
  info: { vendor: string; architecture: string; device: string; description: string };
  features: Set<string>;
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
  subgroupMinSize: number;
  subgroupMaxSize: number;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
  };
  /** True when f16 x f16 -> f32 16x16x16 subgroup matrices exist and subgroups are 32 wide. */
  hasF16TensorCores: boolean;
  /** True when i8 x i8 -> i32 subgroup matrices (16x16x32) exist. */
  hasI8TensorCores: boolean;
  /** Resolves when the device is lost (with the reason); the engine turns this into errors. */
  lost: Promise<GPUDeviceLostInfo>;
}

export interface OpenGpuOptions {
  /** Pick an adapter by index (see `vitstream info`) or by a substring of its description. */
  adapter?: string | number;
  powerPreference?: GPUPowerPreference;
}

/**
 * Dawn instances are process-wide by nature (one native library): one per toggle set, made lazily.
 * An instance enumerates its adapters on its first request and prints its limit warnings then; with
 * VITSTREAM_QUIET_DAWN=1 (the CLI sets it) that first request runs with those exact lines filtered
 * out of stderr (see native-stderr.ts).
 */
const instances = new Map<boolean, GPU>();
function dawn(robust: boolean): GPU {
  let gpu = instances.get(robust);
  if (!gpu) {
    const made = create(dawnToggles(robust));
    if (process.env.VITSTREAM_QUIET_DAWN === '1') {
      const first = () => made.requestAdapter().catch(() => null);
      void filterNativeStderr(first, DAWN_LIMIT_WARNING, process.stderr.writableLength);
    }
    gpu = made;
    instances.set(robust, gpu);
  }
  return gpu;
}

/** A software adapter (lavapipe, SwiftShader): runs on the CPU cores. */
export const isCpuAdapter = (a: GPUAdapter) =>
  /llvmpipe|lavapipe|swiftshader/i.test(`${a.info.description} ${a.info.device} ${a.info.architecture}`);

/** The instance whose adapters the engine uses: robustness as forced by the environment, else off unless the adapter is a CPU one. */
async function instanceFor(request: (gpu: GPU) => Promise<GPUAdapter | null>): Promise<GPU> {
  const forced = process.env.VITSTREAM_ROBUST_BUFFERS;
  if (forced === '1' || forced === '0') return dawn(forced === '1');
  const fast = await request(dawn(false));
  return fast && isCpuAdapter(fast) ? dawn(true) : dawn(false);
}

const NO_ADAPTER_HELP =
  'No WebGPU adapter found. On a machine with a GPU, install its Vulkan driver (NVIDIA: the proprietary driver; AMD/Intel: mesa-vulkan-drivers) and libvulkan1. ' +
  "On a CPU-only Debian/Ubuntu machine install Mesa's lavapipe: `apt-get install libvulkan1` and `apt-get install -t bookworm-backports mesa-vulkan-drivers` (Mesa 23+; Dawn refuses Mesa 22).";

function describe(a: GPUAdapter) {
  const i = a.info;
  return { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description };
}

async function pickAdapter(opts: OpenGpuOptions): Promise<GPUAdapter> {
  const powerPreference = opts.powerPreference ?? 'high-performance';
  const gpu = await instanceFor((g) => g.requestAdapter({ powerPreference }));
  if (opts.adapter === undefined) {
    const a = await gpu.requestAdapter({ powerPreference });
    if (!a) throw new GpuUnavailableError(NO_ADAPTER_HELP);
    return a;
  }
  const candidates = await listAdapters(gpu);
  const byIndex = typeof opts.adapter === 'number' || /^\d+$/.test(String(opts.adapter));
  const found = byIndex
    ? candidates[Number(opts.adapter)]
    : candidates.find((c) =>
        JSON.stringify(describe(c)).toLowerCase().includes(String(opts.adapter).toLowerCase()),
      );
  if (!found) {
    const names = candidates
      .map((c, i) => `  ${i}: ${describe(c).description || describe(c).device || describe(c).vendor}`)
      .join('\n');
    throw new GpuUnavailableError(
      `adapter ${JSON.stringify(opts.adapter)} not found; available:\n${names || '  (none)'}`,
      { input: String(opts.adapter) },
    );
  }
  return found;
}

/** Distinct adapters (high-performance, low-power, and fallback), for `vitstream info`. */
export async function listAdapters(instance?: GPU): Promise<GPUAdapter[]> {
  const gpu =
    instance ?? (await instanceFor((g) => g.requestAdapter({ powerPreference: 'high-performance' })));
  const out: GPUAdapter[] = [];
  const seen = new Set<string>();
  for (const options of [
    { powerPreference: 'high-performance' },
    { powerPreference: 'low-power' },
    { forceFallbackAdapter: true },
  ] as GPURequestAdapterOptions[]) {
    const a = await gpu.requestAdapter(options).catch(() => null);
    if (!a) continue;
    const key = JSON.stringify(describe(a));
    if (!seen.has(key)) {
      seen.add(key);
      out.push(a);
    }
  }
  return out;
}

export async function openGpu(opts: OpenGpuOptions = {}): Promise<GpuContext> {
  const adapter = await pickAdapter(opts);
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const al = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
    maxBufferSize: al.maxBufferSize,
    maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
    maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
  };
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  } catch (e) {
    throw new GpuUnavailableError(
      `could not create a WebGPU device on ${describe(adapter).description}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const info = adapter.info as GPUAdapterInfo & {
    subgroupMatrixConfigs?: SubgroupMatrixConfig[];
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  // Dawn's config objects expose their fields as prototype getters: copy them one by one.
  const configs = features.includes('chromium-experimental-subgroup-matrix' as GPUFeatureName)
    ? (info.subgroupMatrixConfigs ?? []).map((c) => ({
        componentType: c.componentType,
        resultComponentType: c.resultComponentType,
        M: c.M,
        N: c.N,
        K: c.K,
      }))
    : [];
  const subgroupMinSize = info.subgroupMinSize ?? 0;
  const subgroupMaxSize = info.subgroupMaxSize ?? 0;
  const has = (t: string, r: string, M: number, N: number, K: number) =>
    configs.some(
      (c) => c.componentType === t && c.resultComponentType === r && c.M === M && c.N === N && c.K === K,
    );
  const subgroups32 = features.includes('subgroups') && subgroupMinSize === 32 && subgroupMaxSize === 32;
  return {
    adapter,
    device,
    info: describe(adapter),
    features: new Set<string>(features),
    subgroupMatrixConfigs: configs,
    subgroupMinSize,
    subgroupMaxSize,
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
    },
    hasF16TensorCores: subgroups32 && features.includes('shader-f16') && has('f16', 'f32', 16, 16, 16),
    hasI8TensorCores: subgroups32 && has('i8', 'i32', 16, 16, 32),
    lost: device.lost,
  };
}
