#!/usr/bin/env bash
# Builds, without any image registry, the container images that the tests and the CWL v1.2
# conformance suite name (docker.io/debian:stable-slim, python:3-slim, bash:4.4, alpine:latest):
# one minimal Debian bookworm root filesystem from Debian's mirror (debootstrap), imported under
# each name. Idempotent: does nothing when every image exists; the root filesystem tarball is
# kept in a cache directory, so a machine that lost its images re-imports them in seconds.
#
#   scripts/build-test-images.sh          # podman, or $WES_CONTAINER_ENGINE
#
# Needs root (debootstrap), debootstrap and a container engine.
# WES_TEST_IMAGE_CACHE (default /var/cache/wes-test-images), DEBIAN_MIRROR override the defaults.
set -euo pipefail

engine=${WES_CONTAINER_ENGINE:-podman}
cache=${WES_TEST_IMAGE_CACHE:-/var/cache/wes-test-images}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bump when the recipe below changes, so cached tarballs of an older recipe are not reused.
recipe=1
tarball=$cache/bookworm-rootfs-$recipe.tar

# Every image is the same root filesystem; bash:4.4 also gets the official image's entry point
# (docker-entrypoint.sh runs `bash "$@"` when the first argument is an option), which the
# conformance test docker_entrypoint relies on.
plain_images=(docker.io/debian:stable-slim docker.io/python:3-slim docker.io/alpine:latest)
bash_image=docker.io/bash:4.4

exists() { "$engine" image inspect "$1" >/dev/null 2>&1; }

missing=0
for image in "${plain_images[@]}" "$bash_image"; do exists "$image" || missing=1; done
[ "$missing" = 0 ] && exit 0

command -v "$engine" >/dev/null || { echo "build-test-images: $engine is not installed" >&2; exit 1; }

if [ ! -f "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "build-test-images: install debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  rootfs=$work/rootfs
  echo "build-test-images: debootstrap bookworm from $mirror (a few minutes, once)" >&2
  debootstrap --variant=minbase --include=python3 bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # Where the official images keep their interpreters (python:3-slim, bash:4.4).
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python3"
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  ln -sf /bin/bash "$rootfs/usr/local/bin/bash"
  cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/usr/bin/env bash
set -e
# As in the official bash image: an option or nothing as the first argument means "run bash".
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- bash "$@"
fi
exec "$@"
EOF
  chmod 755 "$rootfs/usr/local/bin/docker-entrypoint.sh"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
  rm -rf "$work"
  trap - EXIT
fi

first=${plain_images[0]}
exists "$first" || "$engine" import --change 'CMD ["bash"]' "$tarball" "$first" >/dev/null
for image in "${plain_images[@]:1}"; do
  exists "$image" || "$engine" tag "$first" "$image"
done
exists "$bash_image" || "$engine" import \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["bash"]' "$tarball" "$bash_image" >/dev/null
echo "build-test-images: ${plain_images[*]} $bash_image ready ($engine)" >&2
