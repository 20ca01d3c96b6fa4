#!/usr/bin/env bash
# Issue #27, item 1 on a GPU machine: does Mesa's Vulkan device-select layer (what `worker --gpu N` pins
# through) load in front of NVIDIA's driver, list the cards by PCI address, and leave Dawn the named card
# only? Needs the layer carried in .gpu-layer/ (libVkLayer_MESA_device_select.so from mesa-vulkan-drivers
# and the libraries it links: libxcb, libxcb-dri3, libwayland-client, libdrm, libXau, libXdmcp, libbsd,
# libmd). Run from the project root after `npm run build`, inside .gpu/enter.sh (root: it installs the
# layer's manifest under /usr/share/vulkan/implicit_layer.d).
set -uo pipefail
src=${1:-.gpu-layer}
[ -f "$src/libVkLayer_MESA_device_select.so" ] || { echo "gpu-select-check: no $src/libVkLayer_MESA_device_select.so" >&2; exit 2; }
lib=/tmp/gpu/layer; mkdir -p "$lib" /usr/share/vulkan/implicit_layer.d
cp "$src"/*.so* "$lib"/
# The layer's own libraries come from $lib; the loader finds the layer by its absolute path. A machine
# with mesa-vulkan-drivers has the layer already: keep its manifest.
[ -f /usr/share/vulkan/implicit_layer.d/VkLayer_MESA_device_select.json ] || cat >/usr/share/vulkan/implicit_layer.d/VkLayer_MESA_device_select.json <<EOF
{"file_format_version": "1.0.0", "layer": {"name": "VK_LAYER_MESA_device_select", "type": "GLOBAL",
 "library_path": "$lib/libVkLayer_MESA_device_select.so", "api_version": "1.3.239", "implementation_version": "1",
 "description": "Linux device selection layer",
 "functions": {"vkNegotiateLoaderLayerInterfaceVersion": "vkNegotiateLoaderLayerInterfaceVersion"},
 "disable_environment": {"NODEVICE_SELECT": "1"}}}
EOF
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
adapter='import("./dist/src/engine/gpu.js").then(async (g) => { const a = await g.listAdapters(); console.log("adapters:", a.length, a.map((x) => x.info.description || x.info.device).join(" | ")); })'
run() { echo "\$ $*"; timeout 60 env "$@" 2>&1 | grep -v '^Warning' | head -20; }
echo "== PCI GPUs (sysfs, the order --gpu numbers them in)"
node -e 'import("./dist/src/cluster/gpus.js").then((g) => console.log(JSON.stringify(g.listPciGpus())))'
slot=$(node -e 'import("./dist/src/cluster/gpus.js").then((g) => console.log(g.listPciGpus()[0]?.slot ?? ""))')
pci=pci-$(echo "$slot" | tr ':.' '__')
echo "== layer loaded? (loader's layer log)"
VK_LOADER_DEBUG=layer timeout 60 node -e "$adapter" 2>&1 | grep -iE 'device_select|adapters:' | head -8
echo "== the layer's own device list"
run MESA_VK_DEVICE_SELECT=list node -e "$adapter"
echo "== pinned to GPU 0 as worker --gpu 0 pins it"
run DRI_PRIME="$pci" MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1 node -e "$adapter"
echo "== pinned to a PCI address that does not exist"
run DRI_PRIME=pci-0000_ff_1f_7 MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1 node -e "$adapter"
echo "== the layer disabled (NODEVICE_SELECT=1)"
run NODEVICE_SELECT=1 node -e "$adapter"
echo "== vitstream worker --gpu 0 / 1 / all, as a user starts them (argument checks only: no NATS here)"
for g in 0 1 all; do run node dist/src/cli/main.js worker --nats nats://127.0.0.1:1 --gpu $g --backend webgpu --model vit-tiny-test --weights /nonexistent; done
