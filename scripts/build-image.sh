#!/usr/bin/env bash
# Builds wharf's container image with podman from deploy/container/Containerfile,
# on an empty base (nothing is pulled).
#
#   scripts/build-image.sh [TAG]      (default: localhost/wharf:latest)
#
# The context holds the release binary without its debug sections (symbols
# stay, so backtraces name functions), exactly the shared libraries it
# links, the system's CA certificates, a passwd and group file naming the
# server's user (10001), and an empty /data owned by that user.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/wharf:latest}
target=${CARGO_TARGET_DIR:-$PWD/target}

for tool in podman objcopy ldd; do
    command -v "$tool" >/dev/null || {
        echo "build-image: $tool is needed (Debian: apt-get install podman binutils libc-bin)" >&2
        exit 1
    }
done
certificates=/etc/ssl/certs/ca-certificates.crt
[ -r "$certificates" ] || {
    echo "build-image: $certificates is missing (Debian: apt-get install ca-certificates)" >&2
    exit 1
}

cargo build --release --locked -p wharf
binary=$target/release/wharf

context=$target/image-context
rm -rf "$context"
root=$context/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$context/owned/data"
chmod 1777 "$root/tmp"
chmod 0700 "$context/owned/data"
objcopy --strip-debug "$binary" "$root/usr/local/bin/wharf"

# Every library the dynamic linker would load, and the linker itself, at
# the paths the binary names them by.
libraries=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
for library in $libraries; do
    mkdir -p "$root$(dirname "$library")"
    cp -L "$library" "$root$library"
done

cp "$certificates" "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/nonexistent\nwharf:x:10001:10001:wharf:/data:/nonexistent\n' > "$root/etc/passwd"
printf 'root:x:0:\nwharf:x:10001:\n' > "$root/etc/group"

version=$("$binary" --version | awk '{ print $2 }')
previous=$(podman image inspect "$tag" --format '{{.Id}}' 2>/dev/null || true)
# Docker's format, which keeps the HEALTHCHECK (OCI's has no field for it).
podman build --quiet --format docker --build-arg "VERSION=$version" \
    --file deploy/container/Containerfile --tag "$tag" "$context" >/dev/null
# The image this tag named before, unless something else still uses it.
current=$(podman image inspect "$tag" --format '{{.Id}}')
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
fi
size=$(podman image inspect "$tag" --format '{{.Size}}')
echo "build-image: built $tag (wharf $version, $((size / 1024 / 1024)) MiB)" >&2
