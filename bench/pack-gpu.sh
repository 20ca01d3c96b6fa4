#!/usr/bin/env bash
# Packs .gpu/ for the GPU machine with vitest (for the [gpu]-tagged tests) but without the
# dev tools that are of no use there (biome, the TypeScript compiler, playwright), so that the
# carried tree stays under the 64 MiB limit. Build first: npm run build.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/gpu/pack.sh
tmp=$(mktemp -d)
tar -C . -cf - --exclude='node_modules/@biomejs' --exclude='node_modules/@typescript' --exclude='node_modules/typescript' \
  --exclude='node_modules/playwright-core' --exclude='node_modules/ffmpeg-static' \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' --exclude='node_modules/webgpu/dist/linux-arm64' \
  node_modules | xz -T0 -3 > "$tmp/nm.tar.xz"
mv "$tmp/nm.tar.xz" .gpu/node_modules.tar.xz
rm -rf "$tmp"
du -sh .gpu
