#!/usr/bin/env bash
# The whole test suite, on a fresh machine with the .NET SDK: installs the two Debian packages the tests use when they
# are missing (chromium for the status page's browser test, postgresql for the server binaries from which the tests
# start a private PostgreSQL of their own: no running cluster and no role are needed), then runs `dotnet test`.
# Extra arguments go to `dotnet test` (for example --filter).
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET 10 SDK is needed (dotnet on PATH)" >&2
  exit 1
fi

missing=()
[ -x "${PRESENCE_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
if [ -z "${PRESENCE_TEST_POSTGRES:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]} (Debian packages the tests need)"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

exec dotnet test PresenceActors.sln "$@"
