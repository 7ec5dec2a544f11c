#!/usr/bin/env bash
# Runs furl's tests on a fresh machine: installs the real clients the
# end-to-end tests drive (the AWS CLI v2, zip and Chromium, from Debian's
# packages) when they are missing, then runs every test with the race
# detector.
set -euo pipefail
cd "$(dirname "$0")/.."

have_cli_v2() {
  for c in /usr/bin/aws "$(command -v aws 2>/dev/null || true)"; do
    [ -x "$c" ] && "$c" --version 2>&1 | grep -q '^aws-cli/2' && return 0
  done
  return 1
}

missing=()
have_cli_v2 || missing+=(awscli)
command -v zip >/dev/null || missing+=(zip)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "scripts/test.sh: installing ${missing[*]} from Debian's packages" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The end-to-end tests must not skip the AWS CLI or Chromium here.
export FURL_E2E_REQUIRE_AWS_CLI=1 FURL_E2E_REQUIRE_CHROMIUM=1
exec go test -race -count=1 -timeout 30m ./... "$@"
