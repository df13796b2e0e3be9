#!/usr/bin/env bash
# Publishes the Host self-contained for linux-x64 as a plain folder (not single-file): no .NET runtime is needed on the
# Facade node, and the systemd unit starts the folder's executable PresenceActors.Host.
#   deploy/publish.sh [OUTPUT_FOLDER]      default: publish/linux-x64 in the repository
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/publish/linux-x64}
mkdir -p "$out"
out=$(cd "$out" && pwd)

cd "$root"
dotnet publish PresenceActors.Host/PresenceActors.Host.csproj -c Release -r linux-x64 --self-contained -o "$out"
echo "Published to $out. Install it on a node with: sudo deploy/systemd/install.sh --from $out"
