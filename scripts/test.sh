#!/usr/bin/env bash
# Runs furl's tests on a fresh machine: installs the real clients the
# end-to-end tests drive (the AWS CLI v2, zip, Chromium and NSS's certutil,
# from Debian's packages) and busybox-static when they are missing, builds
# the local stand-ins for AWS's Lambda base images the Docker tests run on
# (scripts/test-images.sh; it needs a running Docker engine), then runs
# every test with the race detector.
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
command -v certutil >/dev/null || missing+=(libnss3-tools)
# The test images' /bin/sh: a static busybox, which needs no libraries.
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
  missing+=(busybox-static)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "scripts/test.sh: installing ${missing[*]} from Debian's packages" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

scripts/test-images.sh

# The end-to-end tests must not skip the AWS CLI, Chromium, certutil or
# Docker here.
export FURL_E2E_REQUIRE_AWS_CLI=1 FURL_E2E_REQUIRE_CHROMIUM=1 FURL_E2E_REQUIRE_CERTUTIL=1 FURL_E2E_REQUIRE_DOCKER=1
# Terraform is not installed here (its provider is large and not Debian's);
# where it is, the Terraform test must not skip.
if command -v terraform >/dev/null; then
  export FURL_E2E_REQUIRE_TERRAFORM=1
fi
# The e2e package takes 12-22 minutes under -race on a 2-core machine,
# depending on the day; 45 minutes leaves room and stays within CI's 90.
exec go test -race -count=1 -timeout 45m ./... "$@"
