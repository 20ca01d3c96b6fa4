import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ClusterError } from '../errors.js';

/** A display-class PCI device: what the Vulkan loader will offer as a physical device. */
export interface PciGpu {
  index: number;
  /** PCI address, e.g. 0000:1b:00.0. */
  slot: string;
  vendor: string;
  device: string;
}

/**
 * GPUs by PCI address order, from sysfs (class 0x0300 VGA or 0x0302 3D controller: H100s are the
 * latter). Identical cards have identical WebGPU adapter names, so the PCI address is the only
 * stable way to tell them apart.
 */
export function listPciGpus(sysfs = '/sys/bus/pci/devices'): PciGpu[] {
  let slots: string[];
  try {
    slots = readdirSync(sysfs).sort();
  } catch {
    return [];
  }
  const read = (slot: string, f: string) => {
    try {
      return readFileSync(path.join(sysfs, slot, f), 'utf8').trim();
    } catch {
      return '';
    }
  };
  return slots
    .filter((s) => /^0x030[02]/.test(read(s, 'class')))
    .map((slot, index) => ({ index, slot, vendor: read(slot, 'vendor'), device: read(slot, 'device') }));
}

/**
 * Environment that pins a process to one GPU through Mesa's Vulkan device-select layer (an implicit
 * loader layer shipped with mesa-vulkan-drivers, which works in front of NVIDIA's driver too): DRI_PRIME
 * names the card by PCI path, and FORCE_DEFAULT_DEVICE hides the others, so Dawn's only adapter is
 * that card. MESA_VK_DEVICE_SELECT would win over DRI_PRIME but only knows vendor:device ids, the
 * same on identical cards, so it is cleared.
 */
export function pinEnvironment(gpu: PciGpu): Record<string, string | undefined> {
  return {
    DRI_PRIME: `pci-${gpu.slot.replace(/[:.]/g, '_')}`,
    MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: '1',
    MESA_VK_DEVICE_SELECT: undefined,
    NODEVICE_SELECT: undefined,
    VITSTREAM_GPU: String(gpu.index),
  };
}

/** What `--gpu` asks for: the default adapter, one card, or one process per card. */
export type GpuChoice = { kind: 'default' } | { kind: 'one'; gpu: PciGpu } | { kind: 'each'; gpus: PciGpu[] };

/**
 * `--gpu N|all`. A machine with no PCI GPU (lavapipe, --backend cpu) or with one has one adapter,
 * the default: `all` and `0` mean it, any other index is an error naming what exists.
 */
export function chooseGpus(arg: string | undefined, gpus: PciGpu[]): GpuChoice {
  if (arg === undefined) return { kind: 'default' };
  if (arg === 'all') return gpus.length > 1 ? { kind: 'each', gpus } : { kind: 'default' };
  if (!/^\d{1,3}$/.test(arg))
    throw new ClusterError(`--gpu: expected a GPU index or "all", got ${JSON.stringify(arg.slice(0, 40))}`, {
      input: '--gpu',
    });
  const i = Number(arg);
  const count = Math.max(1, gpus.length);
  if (i >= count)
    throw new ClusterError(
      `--gpu ${i}: this machine has ${gpus.length === 0 ? 'one adapter (no PCI GPU: a CPU adapter or --backend cpu), index 0' : `${gpus.length} GPU${gpus.length > 1 ? 's' : ''}, indices 0-${gpus.length - 1}`}`,
      { input: '--gpu' },
    );
  return gpus.length > 1 ? { kind: 'one', gpu: gpus[i]! } : { kind: 'default' };
}

/**
 * Where the Vulkan loader looks for implicit layers (its documented search path, user dirs left
 * out): the device-select layer must be in one of them for pinning to work.
 */
export function findDeviceSelectLayer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  const dirs = [
    ...(env.VK_ADD_IMPLICIT_LAYER_PATH ?? '').split(':'),
    '/etc/vulkan/implicit_layer.d',
    ...dataDirs.map((d) => path.join(d, 'vulkan/implicit_layer.d')),
  ].filter(Boolean);
  for (const dir of dirs) {
    const f = path.join(dir, 'VkLayer_MESA_device_select.json');
    if (existsSync(f)) return f;
  }
  return undefined;
}

/** Pinning one of several GPUs without the layer would silently run every worker on GPU 0: refuse instead. */
/** `layer`: the layer's manifest, null for none, undefined to look for it. */
export function requirePinning(choice: GpuChoice, layer?: string | null): void {
  if (choice.kind === 'default' || (layer === undefined ? findDeviceSelectLayer() : layer)) return;
  throw new ClusterError(
    "--gpu: choosing one of several GPUs needs Mesa's Vulkan device-select layer (VkLayer_MESA_device_select.json, package mesa-vulkan-drivers): Dawn opens the first adapter of a name, and identical cards share one",
    { input: '--gpu' },
  );
}
