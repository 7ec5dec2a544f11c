#!/usr/bin/env bash
# Builds furl's local stand-ins for AWS's Lambda base images, tagged with
# AWS's names so that furl's Docker sandbox finds them without a registry:
#
#   public.ecr.aws/lambda/provided:al2023
#   public.ecr.aws/lambda/nodejs:<major of the host's node>
#   public.ecr.aws/lambda/python:<X.Y of the host's python3>
#
# Each is a root filesystem assembled in a temporary directory from this
# host's busybox-static, node and python3 (with the shared libraries ldd
# names), laid out as AWS lays out its images (/lambda-entrypoint.sh,
# /var/lang, /var/runtime, /var/task), and imported with `docker import`:
# nothing is pulled. furl's own runtime clients serve as the images' runtime
# interface clients.
#
# Every image carries the labels dev.furl.test-image=1 (it is furl's
# stand-in, not AWS's image) and dev.furl.inputs=<sha256 of everything it is
# built from>; an image whose label matches is left alone, so a rerun with
# unchanged inputs imports nothing.
#
# Usage: scripts/test-images.sh [provided] [nodejs] [python]   (default: all)
# FURL_TEST_NODE and FURL_TEST_PYTHON name other interpreters to package.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

log() { echo "test-images: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# The version of the recipe itself, beyond what the hash sees in the plan
# (the tar options and the import): bump it when those change.
readonly format=1
readonly busybox=/bin/busybox
readonly applets=(sh cat echo env false id ls mkdir rm sleep true)

# --- preconditions: say what is missing and how to get it.
command -v docker >/dev/null || die "no docker CLI on PATH"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "the Docker engine does not answer (docker version failed); start it or set DOCKER_HOST"
[ -x "$busybox" ] || die "$busybox is missing: install Debian's busybox-static (scripts/test.sh does)"
if ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is dynamically linked: install Debian's busybox-static instead of busybox"
fi
for tool in ldd tar sha256sum find sort xargs; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/furl-test-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- a plan is what an image is made of, kept apart from the building so
# that it can be hashed without copying anything:
#   $plan/gen/             files written by this script, laid out as in the image
#   $plan/groups/N/{src,dst,list}
#                          host files: each path in list (relative to src)
#                          goes to dst/path in the image, symlinks followed
#   $plan/changes          Dockerfile instructions for docker import --change
new_plan() {
  plan="$work/$1"
  mkdir -p "$plan/gen" "$plan/groups"
  : >"$plan/changes"
}

# add_files SRC DST: the relative paths on stdin, from SRC to DST; leaves
# the group's directory in g.
add_files() {
  g="$plan/groups/$(find "$plan/groups" -mindepth 1 -maxdepth 1 | wc -l)"
  mkdir -p "$g"
  printf '%s\n' "$1" >"$g/src"
  printf '%s\n' "$2" >"$g/dst"
  LC_ALL=C sort -u >"$g/list"
}

# add_file SRC DST: one host file, under another path.
add_file() {
  add_files "$(dirname "$1")" "$(dirname "$2")" <<<"$(basename "$1")"
  printf '%s\n' "$(basename "$2")" >"$g/as"
}

change() { printf '%s\n' "$@" >>"$plan/changes"; }

gen_file() { # gen_file MODE PATH: the content on stdin
  mkdir -p "$(dirname "$plan/gen$2")"
  cat >"$plan/gen$2"
  chmod "$1" "$plan/gen$2"
}

gen_dir() { for d in "$@"; do mkdir -p "$plan/gen$d"; done; }

gen_link() { # gen_link TARGET PATH
  mkdir -p "$(dirname "$plan/gen$2")"
  ln -sfn "$1" "$plan/gen$2"
}

# libs_of FILE...: the shared libraries ldd resolves for FILE, one path a
# line, the dynamic loader included; fails if one is not found.
libs_of() {
  local out
  out=$(ldd "$@" 2>&1) || {
    printf '%s\n' "$out" >&2
    return 1
  }
  if grep -q 'not found' <<<"$out"; then
    printf '%s\n' "$out" >&2
    return 1
  fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' <<<"$out"
}

# add_libs FILE...: FILE's libraries, each at the path the host's loader
# found it, so the copied loader finds them in the same places.
add_libs() {
  local libs
  libs=$(libs_of "$@") || die "ldd cannot resolve every library of $*"
  sed 's|^/||' <<<"$libs" | add_files / /
}

# --- what every image has: busybox as /bin/sh, the entry point, the
# directories AWS's images have, and a few files of /etc.
common_layout() {
  gen_dir /var/task /var/runtime /opt /tmp /var/lang/lib
  chmod 1777 "$plan/gen/tmp"
  echo bin/busybox | add_files / /
  for a in "${applets[@]}"; do gen_link busybox "/bin/$a"; done
  gen_link ../../bin/busybox /usr/bin/env
  gen_file 0644 /etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
EOF
  gen_file 0644 /etc/group <<'EOF'
root:x:0:
sbx_user1051:x:990:
nobody:x:65534:
EOF
  # TZ=:/etc/localtime, as in AWS's images, names UTC's zone file.
  if [ -f /usr/share/zoneinfo/Etc/UTC ]; then
    echo usr/share/zoneinfo/Etc/UTC | add_files / /
    gen_link usr/share/zoneinfo/Etc/UTC /etc/localtime
  fi
  # The host's CA bundle where Debian keeps it, and under Amazon Linux's
  # name too.
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    echo etc/ssl/certs/ca-certificates.crt | add_files / /
    gen_link ../../../ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt
  fi
  # In AWS's images this script starts the Runtime Interface Emulator when
  # AWS_LAMBDA_RUNTIME_API is unset; furl always sets it, and these images
  # carry no emulator, so they say so instead.
  gen_file 0755 /lambda-entrypoint.sh <<'EOF'
#!/bin/sh
# furl's stand-in for the entry point of AWS's Lambda base images (this is
# a test image built by furl's scripts/test-images.sh, not AWS's image).
# Its one argument is the function's handler, which the runtime interface
# client reads from _HANDLER; the client then talks to the Runtime API at
# AWS_LAMBDA_RUNTIME_API.
if [ "$#" -ne 1 ]; then
  echo "lambda-entrypoint.sh: want one argument, the handler; got $#" >&2
  exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  echo "lambda-entrypoint.sh: AWS_LAMBDA_RUNTIME_API is not set, and this furl test image has no Runtime Interface Emulator to stand in for it; run it under furl, which sets it" >&2
  exit 1
fi
exec /var/runtime/bootstrap
EOF
  change 'ENV LANG=en_US.UTF-8' 'ENV TZ=:/etc/localtime' \
    'ENV LAMBDA_TASK_ROOT=/var/task' 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    'WORKDIR /var/task' 'ENTRYPOINT ["/lambda-entrypoint.sh"]'
}

# --- provided:al2023: the OS-only image. It has no /var/runtime/bootstrap,
# as AWS's has none: furl runs a zip function's /var/task/bootstrap itself.
plan_provided() {
  name=public.ecr.aws/lambda/provided:al2023
  new_plan provided
  common_layout
  change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LD_LIBRARY_PATH=/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib'
}

# --- nodejs:<major>: the host's node with its libraries, and furl's Node.js
# runtime client as the runtime interface client.
plan_nodejs() {
  local node version major
  node=$(command -v "${FURL_TEST_NODE:-node}") || die "no node on PATH (the nodejs image packages the host's node)"
  node=$(readlink -f "$node")
  version=$("$node" -p 'process.versions.node') || die "$node does not run"
  major=${version%%.*}
  name=public.ecr.aws/lambda/nodejs:$major
  log "nodejs: packaging $node (v$version) as $name"
  new_plan nodejs
  common_layout
  add_file "$node" /var/lang/bin/node
  add_libs "$node"
  printf 'runtime.mjs\n' | add_files "$repo/runtimeapi/bootstrap/node" /var/runtime
  gen_file 0755 /var/runtime/bootstrap <<'EOF'
#!/bin/sh
# The runtime interface client of furl's nodejs test image: furl's own
# Node.js client (runtimeapi/bootstrap/node/runtime.mjs).
exec /var/lang/bin/node /var/runtime/runtime.mjs
EOF
  change "ENV NODE_PATH=/opt/nodejs/node$major/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task" \
    'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
    'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    'CMD ["index.handler"]'
}

# --- python:<X.Y>: the host's python3 under /var/lang, its standard library
# without test suites, IDLE, tkinter and ensurepip, and furl's Python
# runtime client as the runtime interface client.
plan_python() {
  local py info exe prefix xy stdlib m
  py=$(command -v "${FURL_TEST_PYTHON:-python3}") || die "no python3 on PATH (the python image packages the host's python3)"
  info=$("$py" -c 'import sys, sysconfig
print(sys.executable)
print(sys.prefix)
print("%d.%d" % sys.version_info[:2])
print(sysconfig.get_path("stdlib"))') || die "$py does not run"
  { read -r exe; read -r prefix; read -r xy; read -r stdlib; } <<<"$info"
  exe=$(readlink -f "$exe")
  name=public.ecr.aws/lambda/python:$xy
  if [ "$xy" != 3.11 ]; then
    log "python: the host's python3 is $xy, not 3.11: tagging it as $name (never as a version it is not)"
  fi
  log "python: packaging $exe (Python $xy, prefix $prefix) as $name"
  [ "$stdlib" = "$prefix/lib/python$xy" ] || die "python's standard library is at $stdlib, not under its prefix $prefix/lib/python$xy"
  new_plan python
  common_layout

  add_file "$exe" "/var/lang/bin/python$xy"
  gen_link "python$xy" /var/lang/bin/python3
  gen_link python3 /var/lang/bin/python

  # The standard library; its extension modules come one by one below.
  (cd "$prefix" && find "lib/python$xy" \
    \( -name test -o -name tests -o -name idle_test -o -name idlelib -o -name tkinter \
    -o -name turtledemo -o -name ensurepip -o -name site-packages -o -name lib-dynload \
    -o -name 'config-*' \) -prune -o \( -type f -o -type l \) -print) | add_files "$prefix" /var/lang
  gen_dir "/var/lang/lib/python$xy/site-packages"

  # Extension modules, but those that only test CPython or need Tk; one
  # whose libraries the host lacks is left out, as a Python built without
  # them would lack it.
  local dynload="$stdlib/lib-dynload" mods=()
  if [ -d "$dynload" ]; then
    for m in "$dynload"/*.so; do
      case "$(basename "$m")" in
      _test* | _ctypes_test* | xxlimited* | _xxtestfuzz* | _tkinter*) continue ;;
      esac
      if libs_of "$m" >/dev/null 2>&1; then
        mods+=("$m")
      else
        log "python: leaving out $(basename "$m"): ldd cannot resolve its libraries"
      fi
    done
    printf '%s\n' "${mods[@]#"$prefix"/}" | add_files "$prefix" /var/lang
  fi

  # libpython, when the interpreter is built shared, goes to /var/lang/lib;
  # every other library to the path the host's loader found it at.
  local libs
  libs=$(libs_of "$exe" "${mods[@]}") || die "ldd cannot resolve the libraries of $exe"
  grep -v "^$prefix/lib/" <<<"$libs" | sed 's|^/||' | add_files / /
  if grep -q "^$prefix/lib/" <<<"$libs"; then
    grep "^$prefix/lib/" <<<"$libs" | sed "s|^$prefix/lib/||" | add_files "$prefix/lib" /var/lang/lib
  fi

  printf 'bootstrap.py\n' | add_files "$repo/runtimeapi/bootstrap/python" /var/runtime
  gen_file 0755 /var/runtime/bootstrap <<'EOF'
#!/bin/sh
# The runtime interface client of furl's python test image: furl's own
# Python client (runtimeapi/bootstrap/python/bootstrap.py).
exec /var/lang/bin/python3 -u /var/runtime/bootstrap.py
EOF
  change 'ENV PYTHONPATH=/var/runtime' \
    'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
    'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    'CMD ["lambda_function.handler"]'
}

# inputs_hash: the sha256 of the plan: the instructions, the generated
# files (names, kinds, modes, link targets, contents) and every host file
# (name, mode, contents, through symlinks).
inputs_hash() {
  {
    echo "format $format"
    cat "$plan/changes"
    (cd "$plan/gen" && find . -printf '%y %m %p %l\n' | LC_ALL=C sort &&
      find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
    local g
    for g in $(find "$plan/groups" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n); do
      g="$plan/groups/$g"
      echo "group $(cat "$g/src") -> $(cat "$g/dst") as $(cat "$g/as" 2>/dev/null)"
      (cd "$(cat "$g/src")" && xargs -r -d '\n' stat -L -c '%a %n' <"$g/list" &&
        xargs -r -d '\n' sha256sum <"$g/list")
    done
  } | sha256sum | cut -d' ' -f1
}

# assemble: the plan's root filesystem, in $plan/root.
assemble() {
  local root="$plan/root" g dst
  mkdir -p "$root"
  cp -a "$plan/gen/." "$root/"
  for g in "$plan/groups"/*; do
    dst="$root$(cat "$g/dst")"
    mkdir -p "$dst"
    tar -C "$(cat "$g/src")" --dereference --no-recursion -cf - -T "$g/list" | tar -C "$dst" -xf -
    if [ -f "$g/as" ] && [ "$(cat "$g/list")" != "$(cat "$g/as")" ]; then
      mv "$dst/$(cat "$g/list")" "$dst/$(cat "$g/as")"
    fi
  done
  # The images run as any user (furl and the tests use --user): everything
  # readable, and /tmp as a sticky world-writable directory.
  chmod -R a+rX "$root"
  chmod 1777 "$root/tmp"
}

build() { # build provided|nodejs|python
  local t0 hash have old args=() c size
  t0=$(date +%s.%N)
  "plan_$1"
  hash=$(inputs_hash)
  have=$(docker image inspect --format '{{index .Config.Labels "dev.furl.inputs"}}' "$name" 2>/dev/null || true)
  if [ "$have" = "$hash" ]; then
    log "$name is up to date (inputs ${hash:0:12}); $(elapsed "$t0")"
    return
  fi
  old=$(docker image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
  if [ -n "$old" ]; then
    log "$name: inputs changed (${have:0:12} -> ${hash:0:12}), rebuilding"
  else
    log "$name: not present, building (inputs ${hash:0:12})"
  fi
  assemble
  while IFS= read -r c; do args+=(--change "$c"); done <"$plan/changes"
  args+=(--change 'LABEL dev.furl.test-image=1' --change "LABEL dev.furl.inputs=$hash")
  tar -C "$plan/root" --numeric-owner --owner=0 --group=0 -cf - . |
    docker import "${args[@]}" --message "furl test image (scripts/test-images.sh), not AWS's" - "$name" >/dev/null ||
    die "docker import of $name failed"
  size=$(docker image inspect --format '{{.Size}}' "$name")
  log "$name: imported, $((size / 1000000)) MB; $(elapsed "$t0")"
  # The image it replaces, now untagged, is only ours to drop; one still
  # used by a container stays.
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect --format '{{.Id}}' "$name")" ]; then
    docker image rm "$old" >/dev/null 2>&1 || log "$name: the previous image ${old:7:12} is still in use; left in place"
  fi
  rm -rf "$plan"
}

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }'; }

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(provided nodejs python)
start=$(date +%s.%N)
for i in "${images[@]}"; do
  case "$i" in
  provided | nodejs | python) build "$i" ;;
  *) die "unknown image $i (want provided, nodejs or python)" ;;
  esac
done
log "done in $(elapsed "$start")"
