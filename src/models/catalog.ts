/**
 * Checkpoints vitstream can download by name. Each entry pins where the bytes come from and, where a
 * hash could be confirmed from public records, their SHA-256: the downloader refuses a file that does
 * not match, and refuses entries without a pinned hash unless the user passes `--allow-unverified`.
 *
 * Hashes were taken only from sources that hashed the downloaded file themselves (projects that pin
 * `model.safetensors` by revision and SHA-256 and check it in tests or manifests); none is made up.
 * Google's `vit_models` bucket publishes no SHA-256 (GCS keeps MD5/CRC32C only), so its entries are
 * `sha256: null` until someone records the hashes of a known-good download.
 */

export type WeightsFileFormat = 'npz' | 'safetensors';

/** Tensor naming of the file: Google's Flax names (`Transformer/encoderblock_0/...`) or timm's (`blocks.0...`). */
export type WeightsLayout = 'google' | 'timm';

export interface CatalogEntry {
  /** Stable name users can type: `timm/<model>` for Hugging Face repos, `google/<file stem>` for the bucket. */
  id: string;
  /** The model preset (src/models/presets.ts) whose shape this checkpoint fits. */
  preset: string;
  /** Download locations, tried in order: a revision-pinned URL first where the revision is known. */
  urls: string[];
  /** File name in the cache. */
  fileName: string;
  format: WeightsFileFormat;
  layout: WeightsLayout;
  /** Exact size in bytes, or null when no source gave it (the server's Content-Length is used then). */
  sizeBytes: number | null;
  /** Rough size for messages before the download starts (parameters x 4 bytes, float32). */
  approxMB: number;
  /** Lower-case hex SHA-256 of the file, or null when no verified value is known (see the module comment). */
  sha256: string | null;
  /** Where the hash was confirmed; empty when sha256 is null. */
  sha256Source: string;
  license: string;
  /** Who trained it, on what, and where it is published. */
  source: string;
  /** Input normalisation the checkpoint was trained with: `(rgb/255 - mean) / std`. */
  mean: [number, number, number];
  std: [number, number, number];
}

/** Google's ViT and timm's augreg checkpoints normalise to [-1, 1]. */
const HALF: [number, number, number] = [0.5, 0.5, 0.5];
/** DeiT keeps torchvision's ImageNet statistics; using 0.5 would shift every input. */
const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

const hf = (repo: string, revision: string | null, file = 'model.safetensors'): string[] => [
  ...(revision ? [`https://huggingface.co/${repo}/resolve/${revision}/${file}`] : []),
  `https://huggingface.co/${repo}/resolve/main/${file}`,
];

// `+` is legal in a GCS object path, but some proxies decode it to a space; %2B is what the bucket's own links use.
const gcs = (file: string): string[] => [
  `https://storage.googleapis.com/vit_models/imagenet21k%2Bimagenet2012/${file}`,
];

const GOOGLE_SOURCE =
  'Google Research, "An Image is Worth 16x16 Words" (Dosovitskiy et al. 2020): pre-trained on ImageNet-21k, ' +
  'fine-tuned on ImageNet-2012; gs://vit_models/imagenet21k+imagenet2012, released with github.com/google-research/vision_transformer. ' +
  'The checkpoints NVIDIA FasterTransformer ViT examples load.';

function google(stem: string, preset: string, approxMB: number): CatalogEntry {
  return {
    id: `google/${stem}`,
    preset,
    urls: gcs(`${stem}.npz`),
    fileName: `${stem}.npz`,
    format: 'npz',
    layout: 'google',
    sizeBytes: null,
    approxMB,
    sha256: null, // no published SHA-256 for the bucket's objects; none found in public records either
    sha256Source: '',
    license: 'Apache-2.0',
    source: GOOGLE_SOURCE,
    mean: HALF,
    std: HALF,
  };
}

export const CATALOG: readonly CatalogEntry[] = [
  {
    // The default for vit-b16-224: the most accurate ImageNet-1k ViT-B/16 at 224 that timm publishes, Apache-2.0,
    // safetensors (no pickle, opens by mmap, header gives every tensor's offset), and the only B/16-224 file
    // whose SHA-256 is confirmed by several independent projects.
    id: 'timm/vit_base_patch16_224.augreg2_in21k_ft_in1k',
    preset: 'vit-b16-224',
    urls: hf('timm/vit_base_patch16_224.augreg2_in21k_ft_in1k', '063c6c38a5d8510b2e57df480445e94b231dad2c'),
    fileName: 'model.safetensors',
    format: 'safetensors',
    layout: 'timm',
    sizeBytes: 346_284_714,
    approxMB: 346,
    sha256: '32aa17d6e17b43500f531d5f6dc9bc93e56ed8841b8a75682e1bb295d722405b',
    sha256Source:
      'pinned with revision 063c6c38 by several public projects that hash the downloaded file (LibreYOLO LibreViT provenance, ' +
      'research manifests checked with hashlib); size 346,284,714 B from the same records',
    license: 'Apache-2.0',
    source:
      'Google AugReg ViT-B/16 pre-trained on ImageNet-21k, re-fine-tuned on ImageNet-1k with extra augmentation ' +
      'by Ross Wightman (timm); huggingface.co/timm/vit_base_patch16_224.augreg2_in21k_ft_in1k',
    mean: HALF,
    std: HALF,
  },
  {
    id: 'timm/deit_base_patch16_224.fb_in1k',
    preset: 'vit-b16-224',
    urls: hf('timm/deit_base_patch16_224.fb_in1k', 'b78cc5532a69df6bcad9c3a8d76653fd20b31ac6'),
    fileName: 'model.safetensors',
    format: 'safetensors',
    layout: 'timm',
    sizeBytes: 346_284_714,
    approxMB: 346,
    sha256: 'cd2da27b74ed7f68b599f16c77af3e1e80f01c75f9ad96029d22ce747a247e8e',
    sha256Source:
      'pinned with revision b78cc553 by LibreYOLO (test hashes the hf_hub_download result) and by independent ' +
      'experiment reports that list the snapshot path, size 346,284,714 B and this hash',
    license: 'Apache-2.0',
    source:
      "Facebook AI DeiT-B (Touvron et al. 2020), trained on ImageNet-1k only (81.98% top-1 in timm's table); " +
      'huggingface.co/timm/deit_base_patch16_224.fb_in1k',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
  },
  {
    id: 'timm/vit_base_patch16_384.augreg_in21k_ft_in1k',
    preset: 'vit-b16-384',
    urls: hf('timm/vit_base_patch16_384.augreg_in21k_ft_in1k', '1c30cbc7ec35e68529522c0c2ac55692f83cff18'),
    fileName: 'model.safetensors',
    format: 'safetensors',
    layout: 'timm',
    sizeBytes: null,
    approxMB: 347,
    sha256: null, // revision known (1c30cbc), hash not found in any public record
    sha256Source: '',
    license: 'Apache-2.0',
    source:
      'Google AugReg ViT-B/16 pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k at 384 (Steiner et al. 2021), ' +
      'ported by timm; huggingface.co/timm/vit_base_patch16_384.augreg_in21k_ft_in1k',
    mean: HALF,
    std: HALF,
  },
  {
    id: 'timm/vit_base_patch32_224.augreg_in21k_ft_in1k',
    preset: 'vit-b32-224',
    urls: hf('timm/vit_base_patch32_224.augreg_in21k_ft_in1k', null),
    fileName: 'model.safetensors',
    format: 'safetensors',
    layout: 'timm',
    sizeBytes: null,
    approxMB: 353,
    sha256: null, // not found in any public record
    sha256Source: '',
    license: 'Apache-2.0',
    source:
      'Google AugReg ViT-B/32 pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k at 224, ported by timm; ' +
      'huggingface.co/timm/vit_base_patch32_224.augreg_in21k_ft_in1k',
    mean: HALF,
    std: HALF,
  },
  {
    id: 'timm/vit_base_patch32_384.augreg_in21k_ft_in1k',
    preset: 'vit-b32-384',
    urls: hf('timm/vit_base_patch32_384.augreg_in21k_ft_in1k', null),
    fileName: 'model.safetensors',
    format: 'safetensors',
    layout: 'timm',
    sizeBytes: null,
    approxMB: 353,
    sha256: null, // not found in any public record
    sha256Source: '',
    license: 'Apache-2.0',
    source:
      'Google AugReg ViT-B/32 pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k at 384, ported by timm; ' +
      'huggingface.co/timm/vit_base_patch32_384.augreg_in21k_ft_in1k',
    mean: HALF,
    std: HALF,
  },
  {
    id: 'timm/vit_large_patch16_224.augreg_in21k_ft_in1k',
    preset: 'vit-l16-224',
    urls: hf('timm/vit_large_patch16_224.augreg_in21k_ft_in1k', '0930ab3308b84cb2ae091a4a80703c459412a4c7'),
    fileName: 'model.safetensors',
    format: 'safetensors',
    layout: 'timm',
    sizeBytes: null,
    approxMB: 1220,
    sha256: '109390825a5bada2864f1b74445a63d29c51ef079c349644bc98996c452f6cf1',
    sha256Source:
      'one source only: LibreYOLO LibreViT provenance table (revision 0930ab33), whose other rows match independent records',
    license: 'Apache-2.0',
    source:
      'Google AugReg ViT-L/16 pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k at 224, ported by timm; ' +
      'huggingface.co/timm/vit_large_patch16_224.augreg_in21k_ft_in1k',
    mean: HALF,
    std: HALF,
  },
  {
    id: 'timm/vit_large_patch16_384.augreg_in21k_ft_in1k',
    preset: 'vit-l16-384',
    urls: hf('timm/vit_large_patch16_384.augreg_in21k_ft_in1k', null),
    fileName: 'model.safetensors',
    format: 'safetensors',
    layout: 'timm',
    sizeBytes: null,
    approxMB: 1220,
    sha256: null, // not found in any public record
    sha256Source: '',
    license: 'Apache-2.0',
    source:
      'Google AugReg ViT-L/16 pre-trained on ImageNet-21k, fine-tuned on ImageNet-1k at 384, ported by timm; ' +
      'huggingface.co/timm/vit_large_patch16_384.augreg_in21k_ft_in1k',
    mean: HALF,
    std: HALF,
  },
  // Google's original fine-tuned checkpoints, the FasterTransformer ViT set. The bucket holds 224-px files only for
  // B/16 and L/16 (`-224` suffix); the others are the 384-px fine-tunes.
  google('ViT-B_16-224', 'vit-b16-224', 346),
  google('ViT-B_16', 'vit-b16-384', 347),
  google('ViT-B_32', 'vit-b32-384', 353),
  google('ViT-L_16-224', 'vit-l16-224', 1217),
  google('ViT-L_16', 'vit-l16-384', 1218),
  google('ViT-L_32', 'vit-l32-384', 1226),
];

/**
 * Which checkpoint a preset name downloads. `vit-l32-224` has none: neither Google's bucket nor timm
 * publishes an ImageNet-1k ViT-L/32 fine-tuned at 224. Verified timm safetensors where one exists; for the others the
 * most direct checkpoint (which, lacking a pinned hash, needs `--allow-unverified`).
 */
export const DEFAULT_FOR_PRESET: Readonly<Record<string, string>> = {
  'vit-b16-224': 'timm/vit_base_patch16_224.augreg2_in21k_ft_in1k',
  'vit-b16-384': 'timm/vit_base_patch16_384.augreg_in21k_ft_in1k',
  'vit-b32-224': 'timm/vit_base_patch32_224.augreg_in21k_ft_in1k',
  'vit-b32-384': 'timm/vit_base_patch32_384.augreg_in21k_ft_in1k',
  'vit-l16-224': 'timm/vit_large_patch16_224.augreg_in21k_ft_in1k',
  'vit-l16-384': 'timm/vit_large_patch16_384.augreg_in21k_ft_in1k',
  'vit-l32-384': 'google/ViT-L_32',
};

/** The preset the CLI uses when the user names none. */
export const DEFAULT_PRESET = 'vit-b16-224';

export function catalogEntry(
  id: string,
  catalog: readonly CatalogEntry[] = CATALOG,
): CatalogEntry | undefined {
  const want = id.toLowerCase();
  return catalog.find((e) => e.id.toLowerCase() === want);
}

/** A catalogue id, or a preset name (its default checkpoint). */
export function findCheckpoint(
  idOrPreset: string,
  catalog: readonly CatalogEntry[] = CATALOG,
): CatalogEntry | undefined {
  const byId = catalogEntry(idOrPreset, catalog);
  if (byId) return byId;
  const defaultId = DEFAULT_FOR_PRESET[idOrPreset.toLowerCase()];
  return defaultId === undefined ? undefined : catalogEntry(defaultId, catalog);
}

export function checkpointsForPreset(
  preset: string,
  catalog: readonly CatalogEntry[] = CATALOG,
): CatalogEntry[] {
  return catalog.filter((e) => e.preset === preset);
}

/** The entry one of whose URLs is `url` (fragment ignored), so that a pasted URL gets the pinned hash too. */
export function entryForUrl(
  url: string,
  catalog: readonly CatalogEntry[] = CATALOG,
): CatalogEntry | undefined {
  const bare = url.split('#')[0]!;
  return catalog.find((e) => e.urls.includes(bare));
}
