#!/usr/bin/env bash
# Debian packages the tests use as reference implementations (PyTorch recipe, PIL, h5py,
# sklearn). Never runtime dependencies of Strata.
set -euo pipefail
# debootstrap builds the Postgres + pgvector test server's root (scripts/postgres-server.sh).
# chromium runs the web app's browser tests (test/web*.test.ts, through playwright-core).
packages=(python3-torch python3-torchvision python3-onnx python3-numpy python3-scipy python3-sklearn python3-h5py python3-skimage python3-pil debootstrap chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/python3 -c "import torch, torchvision, onnx, numpy, scipy, sklearn, h5py, skimage, PIL" \
  || { echo "reference Python packages failed to import" >&2; exit 1; }
