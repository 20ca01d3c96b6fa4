#!/usr/bin/env bash
# System packages a CPU-only Debian bookworm machine needs to run vitstream and its tests:
# Mesa's lavapipe (a Vulkan driver on the CPU) from bookworm-backports, because Dawn refuses
# Mesa 22 from bookworm itself; the Vulkan loader; ffmpeg; Chromium for the dashboard test;
# nats-server (2.9) for the scale-out tests; GStreamer's RTSP server for the RTSP transport test.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
fi
need=()
dpkg -s libvulkan1 >/dev/null 2>&1 || need+=(libvulkan1)
dpkg -s ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s nats-server >/dev/null 2>&1 || need+=(nats-server)
# A real RTSP server for test/video/rtspLive.test.ts (gst-rtsp-server through python3-gi; RTP/JPEG).
for p in python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
mesa_ok=0
v=$(dpkg-query -W -f '${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$v" in 2[3-9].*|[3-9][0-9].*) mesa_ok=1;; esac
if [ ${#need[@]} -gt 0 ] || [ $mesa_ok = 0 ]; then
  $SUDO apt-get update -qq >/dev/null
  [ ${#need[@]} -gt 0 ] && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ $mesa_ok = 1 ] || $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
fi
echo "system: mesa-vulkan-drivers $(dpkg-query -W -f '${Version}' mesa-vulkan-drivers), $(ffmpeg -version | head -1), nats-server $(dpkg-query -W -f '${Version}' nats-server)"
