#!/usr/bin/env bash
# Builds furl's local stand-ins for AWS's Lambda base images, tagged with
# AWS's names so that furl's Docker sandbox finds them without a registry:
#
#   public.ecr.aws/lambda/provided:al2023
#   public.ecr.aws/lambda/nodejs:<major of the host's node>
#   public.ecr.aws/lambda/python:<X.Y of the host's python3>
#   public.ecr.aws/lambda/java:21, ruby:3.3, dotnet:8 (stand-ins, below)
#
# Each is a root filesystem assembled in a temporary directory from this
# host's busybox-static, node and python3 (with the shared libraries their
# loader resolves), laid out as AWS lays out its images
# (/lambda-entrypoint.sh, /var/lang, /var/runtime, /var/task), and imported
# with `docker import`: nothing is pulled. furl's own runtime clients serve
# as the images' runtime interface clients.
#
# There is no JVM, Ruby or .NET here, so the java, ruby and dotnet images
# hold no language runtime: their /var/runtime/bootstrap is
# scripts/standin-runtime, a small static Go program that speaks the
# Runtime API and answers with the handler and files it was given. They
# prove furl's side (the image it picks for the runtime, the mounts, the
# entry point and the handler it passes), not the languages.
#
# Every image carries the labels dev.furl.test-image=1 (it is furl's
# stand-in, not AWS's image) and dev.furl.inputs=<sha256 of everything it is
# built from: the files' contents, names and modes, and the image's
# settings>; an image whose label matches is left alone, so a rerun with
# unchanged inputs imports nothing.
#
# Usage: scripts/test-images.sh [provided] [nodejs] [python] [java] [ruby] [dotnet]
#        (default: all; the last three need go on PATH to build their bootstrap)
# FURL_TEST_NODE and FURL_TEST_PYTHON name other interpreters to package.
# An image under one of these names that is not furl's (AWS's own, pulled)
# stops the script, unless FURL_TEST_IMAGES_REPLACE=1.
#
# Processes are few on purpose: on a loaded machine each fork costs tens of
# milliseconds, and a no-op rerun should take about as long as reading the
# inputs once.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

log() { echo "test-images: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

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

# Any command that fails ends the script; say which.
trap 'log "error: line $LINENO: $BASH_COMMAND failed"' ERR
set -E

work=$(mktemp -d "${TMPDIR:-/tmp}/furl-test-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- a plan is what an image is made of, kept apart from the building so
# that it can be hashed without copying anything, and written by the
# shell's builtins alone:
#   $plan/dirs       directories to make, one a line
#   $plan/links      symbolic links, "TARGET PATH" a line
#   $plan/files      files this script writes: "MODE PATH N" a line, the
#                    content in $plan/file.N
#   groups           host files: group i copies each path of $plan/list.i
#                    (relative to gsrc[i]) to gdst[i]/path in the image,
#                    following symlinks; gas[i], if set, renames its one file
#   $plan/changes    Dockerfile instructions for docker import --change
new_plan() {
  plan="$work/$1"
  mkdir "$plan"
  : >"$plan/changes"
  : >"$plan/dirs"
  : >"$plan/links"
  : >"$plan/files"
  gsrc=() gdst=() gas=() nfiles=0
}

# add_files SRC DST: the relative paths on stdin, from SRC to DST, in the
# order given (sort what comes from find). Never call it on the right of a
# pipe: the group must land in this shell.
add_files() {
  local i=${#gsrc[@]} paths
  gsrc[i]=$1 gdst[i]=$2 gas[i]=
  mapfile -t paths
  : >"$plan/list.$i"
  [ ${#paths[@]} -eq 0 ] || printf '%s\n' "${paths[@]}" >"$plan/list.$i"
}

# add_file SRC DST: one host file, under another path.
add_file() {
  add_files "${1%/*}" "${2%/*}" <<<"${1##*/}"
  gas[${#gsrc[@]} - 1]=${2##*/}
}

change() { printf '%s\n' "$@" >>"$plan/changes"; }
gen_dir() { printf '%s\n' "$@" >>"$plan/dirs"; }
gen_link() { printf '%s %s\n' "$1" "$2" >>"$plan/links"; } # gen_link TARGET PATH

gen_file() { # gen_file MODE PATH: the content on stdin
  local content
  IFS= read -r -d '' content || true
  printf '%s' "$content" >"$plan/file.$nfiles"
  printf '%s %s %s\n' "$1" "$2" "$nfiles" >>"$plan/files"
  nfiles=$((nfiles + 1))
}

# trace_libs EXE [MODULE...]: the shared libraries EXE and the MODULEs
# need, as EXE's dynamic loader resolves them (one path a line, the loader
# included). The modules ride along as preloads, so one run of the loader
# lists them all. Fails if a library is not found.
trace_libs() {
  local exe=$1 interp out
  shift
  interp=$(ldd "$exe" | awk '$1 ~ /^\// && $2 ~ /^\(/ { print $1 }') || die "ldd $exe failed"
  [ -n "$interp" ] || die "$exe names no dynamic loader"
  local IFS=:
  out=$(LD_TRACE_LOADED_OBJECTS=1 LD_PRELOAD="$*" "$interp" "$exe") || die "the loader cannot trace $exe"
  if [[ $out == *"not found"* ]]; then
    printf '%s\n' "$out" >&2
    return 1
  fi
  awk -v self="$exe" '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ && $1 != self { print $1 }' <<<"$out" |
    grep -vxF -f <(printf '%s\n' "$@") || true
  printf '%s\n' "$interp"
}

# --- what every image has: busybox as /bin/sh, the entry point, the
# directories AWS's images have, and a few files of /etc.
common_layout() {
  local a
  gen_dir /var/task /var/runtime /opt /var/lang/lib
  add_files / / <<<bin/busybox
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
    add_files / / <<<usr/share/zoneinfo/Etc/UTC
    gen_link ../usr/share/zoneinfo/Etc/UTC /etc/localtime
  fi
  # The host's CA bundle where Debian keeps it, and under Amazon Linux's
  # name too.
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    add_files / / <<<etc/ssl/certs/ca-certificates.crt
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
  local node version major libs
  node=$(command -v "${FURL_TEST_NODE:-node}") || die "no node on PATH (the nodejs image packages the host's node)"
  node=$(readlink -f "$node")
  version=$("$node" -p 'process.versions.node') || die "$node does not run"
  major=${version%%.*}
  name=public.ecr.aws/lambda/nodejs:$major
  log "nodejs: packaging $node (v$version) as $name"
  new_plan nodejs
  common_layout
  add_file "$node" /var/lang/bin/node
  libs=$(trace_libs "$node") || die "the loader cannot resolve every library of $node"
  add_files / / < <(sed 's|^/||' <<<"$libs" | LC_ALL=C sort -u)
  add_files "$repo/runtimeapi/bootstrap/node" /var/runtime <<<runtime.mjs
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
  local py info exe prefix xy stdlib m libs mods=() dropped=()
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
  [ "$stdlib" = "$prefix/lib/python$xy" ] || die "python's standard library is at $stdlib, not at $prefix/lib/python$xy"
  new_plan python
  common_layout

  # The interpreter, under the names AWS's image gives it.
  add_file "$exe" "/var/lang/bin/python$xy"
  gen_link "python$xy" /var/lang/bin/python3
  gen_link python3 /var/lang/bin/python

  # The standard library, with the bytecode of plain runs (the root is
  # read-only, so none can be written at run time) but not that of -O and
  # -OO; its extension modules come one by one below.
  add_files "$prefix" /var/lang < <(cd "$prefix" && find "lib/python$xy" \
    \( -name test -o -name tests -o -name idle_test -o -name idlelib -o -name tkinter \
    -o -name turtledemo -o -name ensurepip -o -name site-packages -o -name lib-dynload \
    -o -name 'config-*' \) -prune -o \( -type f -o -type l \) \
    ! -name '*.opt-1.pyc' ! -name '*.opt-2.pyc' -print | LC_ALL=C sort)
  gen_dir "/var/lang/lib/python$xy/site-packages"

  # Extension modules, but those that only test CPython or need Tk.
  for m in "$stdlib/lib-dynload"/*.so; do
    [ -e "$m" ] || continue
    case "${m##*/}" in
    _test* | _ctypes_test* | xxlimited* | _xxtestfuzz* | _tkinter*) continue ;;
    esac
    mods+=("$m")
  done
  if ! libs=$(trace_libs "$exe" "${mods[@]}" 2>/dev/null); then
    # One whose libraries the host lacks is left out, as a Python built
    # without them would lack it; finding which takes a loader run each.
    local keep=()
    for m in "${mods[@]}"; do
      if trace_libs "$exe" "$m" >/dev/null 2>&1; then keep+=("$m"); else dropped+=("${m##*/}"); fi
    done
    mods=("${keep[@]}")
    log "python: leaving out ${dropped[*]}: the host lacks their libraries"
    libs=$(trace_libs "$exe" "${mods[@]}") || die "the loader cannot resolve every library of $exe"
  fi
  add_files "$prefix" /var/lang < <(printf '%s\n' "${mods[@]#"$prefix"/}")

  # libpython, when the interpreter is built shared, goes to /var/lang/lib;
  # every other library to the path the host's loader found it at.
  add_files / / < <(grep -v "^$prefix/lib/" <<<"$libs" | sed 's|^/||' | LC_ALL=C sort -u)
  add_files "$prefix/lib" /var/lang/lib < <(grep "^$prefix/lib/" <<<"$libs" | sed "s|^$prefix/lib/||" | LC_ALL=C sort -u)

  add_files "$repo/runtimeapi/bootstrap/python" /var/runtime <<<bootstrap.py
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

# standin_bootstrap: scripts/standin-runtime, built once per run, static and
# reproducibly (no paths, no build id), so that an unchanged source gives
# the same bytes. It lives at a fixed path outside $work, because the
# inputs hash names each host file's path: a path that changed every run
# would rebuild the images every run.
standin_bootstrap() {
  local dir=${XDG_CACHE_HOME:-${HOME:-${TMPDIR:-/tmp}}/.cache}/furl-test-images
  if [ ! -e "$work/standin-built" ]; then
    command -v go >/dev/null || die "no go on PATH (the java, ruby and dotnet stand-ins run scripts/standin-runtime)"
    mkdir -p "$dir"
    # Built aside and renamed, so that a concurrent run never packs half a file.
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -buildid=' -o "$dir/standin-runtime.$$" ./scripts/standin-runtime ||
      die "go build ./scripts/standin-runtime failed"
    mv -f "$dir/standin-runtime.$$" "$dir/standin-runtime"
    : >"$work/standin-built"
  fi
  echo "$dir/standin-runtime"
}

# --- java:21, ruby:3.3, dotnet:8: AWS's names and layout, with the
# stand-in runtime client as /var/runtime/bootstrap (see the top: no
# language runtime is inside).
plan_standin() { # plan_standin FAMILY TAG
  local bin
  name=public.ecr.aws/lambda/$1:$2
  bin=$(standin_bootstrap)
  new_plan "$1"
  common_layout
  add_file "$bin" /var/runtime/bootstrap
  change "ENV FURL_STANDIN_IMAGE=$1:$2" \
    'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
    'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib'
}
plan_java() { plan_standin java 21; }
plan_ruby() { plan_standin ruby 3.3; }
plan_dotnet() { plan_standin dotnet 8; }

# inputs_hash: the sha256 of the plan and the recipe: the code that
# assembles and imports it, the instructions, the
# directories, links and written files (modes, paths, contents), and the
# host files (paths in and out, modes and contents, through symlinks).
inputs_hash() {
  local i hash
  {
    # How a plan becomes an image, so that changing that rebuilds too.
    declare -f assemble build
    for i in "${!gsrc[@]}"; do echo "group $i: ${gsrc[i]} -> ${gdst[i]} as ${gas[i]}"; done
    cd "$plan"
    cat changes dirs links files list.*
    [ "$nfiles" -eq 0 ] || sha256sum file.*
    # Each group's paths, absolute on the host, in order.
    printf '%s\n' "${gsrc[@]}" >srcs
    awk 'FILENAME == "srcs" { src[FNR - 1] = $0; sub(/\/$/, "", src[FNR - 1]); next }
      { i = FILENAME; sub(/^list\./, "", i); print src[i] "/" $0 }' srcs list.* >host-files
    xargs -r -d '\n' stat -L -c '%a %n' <host-files
    xargs -r -d '\n' sha256sum <host-files
  } | sha256sum >"$plan/hash"
  read -r hash _ <"$plan/hash"
  echo "$hash"
}

# assemble: the plan's root filesystem, in $plan/root.
assemble() {
  local root=$plan/root i dst mode path n target dirs
  mapfile -t dirs <"$plan/dirs"
  mkdir -p "$root/tmp" "${dirs[@]/#/$root}"
  for i in "${!gsrc[@]}"; do
    [ -s "$plan/list.$i" ] || continue
    dst=$root${gdst[i]}
    mkdir -p "$dst"
    tar -C "${gsrc[i]}" --dereference --no-recursion -cf - -T "$plan/list.$i" | tar -C "$dst" -xf -
    if [ -n "${gas[i]}" ] && [ "${gas[i]}" != "$(<"$plan/list.$i")" ]; then
      mv "$dst/$(<"$plan/list.$i")" "$dst/${gas[i]}"
    fi
  done
  while read -r mode path n; do
    install -D -m "$mode" "$plan/file.$n" "$root$path"
  done <"$plan/files"
  while read -r target path; do
    mkdir -p "$root${path%/*}"
    ln -s "$target" "$root$path"
  done <"$plan/links"
  # The images run as any user (furl and the tests use --user): everything
  # readable, and /tmp a sticky world-writable directory.
  chmod -R a+rX "$root"
  chmod 1777 "$root/tmp"
}

build() { # build provided|nodejs|python|java|ruby|dotnet
  local t0=$EPOCHREALTIME hash have old new args=() c size
  "plan_$1"
  hash=$(inputs_hash)
  local ours
  read -r old ours have < <(docker image inspect --format \
    '{{.Id}} {{with .Config.Labels}}{{index . "dev.furl.test-image"}}- {{index . "dev.furl.inputs"}}{{else}}- -{{end}}' \
    "$name" 2>/dev/null || true)
  # An image under this name that is not ours is likely AWS's own, pulled
  # by someone: never replace it unasked.
  if [ -n "$old" ] && [ "$ours" != 1- ] && [ "${FURL_TEST_IMAGES_REPLACE:-}" != 1 ]; then
    die "$name exists and is not furl's test image (no dev.furl.test-image label; AWS's own?): remove it (docker rmi $name) or set FURL_TEST_IMAGES_REPLACE=1 to replace it"
  fi
  if [ "$have" = "$hash" ]; then
    log "$name is up to date (inputs ${hash:0:12}); $(since "$t0")"
    return
  fi
  if [ -n "$old" ] && [ "$ours" != 1- ]; then
    log "$name: replacing an image that is not furl's (FURL_TEST_IMAGES_REPLACE=1)"
  elif [ -n "$old" ]; then
    log "$name: inputs changed (${have:0:12} -> ${hash:0:12}), rebuilding"
  else
    log "$name: not present, building (inputs ${hash:0:12})"
  fi
  assemble
  while IFS= read -r c; do args+=(--change "$c"); done <"$plan/changes"
  args+=(--change 'LABEL dev.furl.test-image=1' --change "LABEL dev.furl.inputs=$hash")
  new=$(tar -C "$plan/root" --numeric-owner --owner=0 --group=0 -cf - . |
    docker import "${args[@]}" --message "furl test image (scripts/test-images.sh), not AWS's" - "$name") ||
    die "docker import of $name failed"
  size=$(docker image inspect --format '{{.Size}}' "$new")
  log "$name: imported ${new:7:12}, $((size / 1000000)) MB; $(since "$t0")"
  # The image it replaces, now untagged, is dropped when it was ours; one
  # still used by a container stays.
  if [ -n "$old" ] && [ "$old" != "$new" ] && [ "$ours" = 1- ]; then
    docker image rm "$old" >/dev/null 2>&1 || log "$name: the previous image ${old:7:12} is still in use; left in place"
  fi
  rm -rf "$plan"
}

since() { # since T0: seconds since EPOCHREALTIME T0, without a process
  local a=${1/[.,]/} b=${EPOCHREALTIME/[.,]/}
  local ms=$(((b - a) / 1000))
  printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or later is needed (EPOCHREALTIME)"
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(provided nodejs python java ruby dotnet)
start=$EPOCHREALTIME
for i in "${images[@]}"; do
  case "$i" in
  provided | nodejs | python | java | ruby | dotnet) build "$i" ;;
  *) die "unknown image $i (want provided, nodejs, python, java, ruby or dotnet)" ;;
  esac
done
log "done in $(since "$start")"
