#!/usr/bin/env bash
# Builds the bouncewatch container image from deploy/Dockerfile with buildah,
# with no registry: the static binary is built here with the host's Go, and
# the image is FROM scratch (see the Dockerfile for what goes in).
#
#   deploy/build-image.sh [options]
#
#   --tag NAME            image name (default localhost/bouncewatch:latest)
#   --root DIR            containers-storage root to build into (buildah --root);
#   --runroot DIR         its run root (buildah --runroot). Default: buildah's
#                         own store (/var/lib/containers/storage for root).
#                         Give the same --root/--runroot/--storage-driver to
#                         podman to run the image from that store.
#   --storage-driver D    vfs (default: works on any file system, without
#                         overlay or fuse; the image is one 15 MB layer) or overlay
#   --oci-archive FILE    also write the image to FILE as an OCI archive
#                         (podman load -i FILE, or podman run oci-archive:FILE)
#   --version V           version for the binary and the image label
#                         (default: git describe; empty keeps the module version)
#
# Needs: go (1.26), buildah (Debian: apt-get install --no-install-recommends
# buildah). Prints the image id on its last line.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tag=localhost/bouncewatch:latest root="" runroot="" driver=vfs archive=""
version=$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || true)
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || true)

die() { echo "build-image.sh: $*" >&2; exit 1; }
while (($#)); do
	case $1 in
	--tag=* | --root=* | --runroot=* | --storage-driver=* | --oci-archive=* | --version=*)
		set -- "${1%%=*}" "${1#*=}" "${@:2}"
		continue
		;;
	--tag) tag=${2:?}; shift 2 ;;
	--root) root=${2:?}; shift 2 ;;
	--runroot) runroot=${2:?}; shift 2 ;;
	--storage-driver) driver=${2:?}; shift 2 ;;
	--oci-archive) archive=${2:?}; shift 2 ;;
	--version) version=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
command -v go >/dev/null || die "go not found"
command -v buildah >/dev/null || die "buildah not found (apt-get install --no-install-recommends buildah)"

store=(--storage-driver "$driver")
[[ -n $root ]] && store+=(--root "$root")
[[ -n $runroot ]] && store+=(--runroot "$runroot")

ctx=$(mktemp -d "${TMPDIR:-/tmp}/bouncewatch-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
umask 022

# The binary: static (no cgo, no libc: scratch has none), reproducible paths,
# the time zone database compiled in (scratch has no /usr/share/zoneinfo; TZ
# and rules' `timezone` need it), build info for bouncewatch_build_info.
(
	cd "$repo"
	CGO_ENABLED=0 go build -trimpath -tags timetzdata \
		-ldflags "-s -w \
			-X github.com/prometheus/common/version.Version=$version \
			-X github.com/prometheus/common/version.Revision=$revision \
			-X github.com/prometheus/common/version.BuildUser=build-image.sh" \
		-o "$ctx/bouncewatch" ./cmd/bouncewatch
)
"$ctx/bouncewatch" --version >/dev/null 2>&1 || die "the built binary does not run"
install -d -m 0755 "$ctx/etc"
install -m 0644 "$repo/deploy/image/etc/passwd" "$repo/deploy/image/etc/group" "$ctx/etc/"
install -d -m 0755 "$ctx/var/lib" "$ctx/state"

# No RUN in the Dockerfile, so no runtime or isolation is involved.
buildah "${store[@]}" bud --quiet --pull=false \
	--file "$repo/deploy/Dockerfile" --tag "$tag" \
	--build-arg VERSION="$version" --build-arg REVISION="$revision" \
	"$ctx" >/dev/null
if [[ -n $archive ]]; then
	rm -f "$archive"
	buildah "${store[@]}" push --quiet "$tag" "oci-archive:$archive:$tag" >/dev/null
	echo "build-image.sh: wrote $archive" >&2
fi
id=$(buildah "${store[@]}" images --quiet --no-trunc "$tag" | head -1)
echo "build-image.sh: built $tag ($version) in ${root:-the default store} ($driver)" >&2
echo "$id"
