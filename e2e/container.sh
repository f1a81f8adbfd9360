# shellcheck shell=bash
# e2e/container.sh: run a bouncewatch of an end-to-end scenario as a
# container, the way a sidecar runs, with Debian's podman and the image of
# deploy/Dockerfile (built by deploy/build-image.sh with buildah).
#
# Contract (source it from bash, as root; needs go, buildah, podman, runc):
#
#   source e2e/container.sh
#   bw_container_run NAME PORT LOGDIR STATEDIR -- BOUNCEWATCH-ARGS...
#       Starts container NAME (a stopped container of that name is replaced)
#       and returns once it runs (not once it is ready: poll
#       http://127.0.0.1:PORT/-/ready, or call bw_container_wait_ready).
#       Nonzero, with podman's error on stderr, if it cannot start.
#       - BOUNCEWATCH-ARGS is bouncewatch's command line without the binary,
#         e.g. `run --source.file=postfix=$LOGDIR/mail.log --state.file=...`;
#         unless it holds a --web.listen-address, --web.listen-address=
#         127.0.0.1:PORT is appended. Host network: PORT is the host's.
#       - LOGDIR (the MTA's log directory) is mounted read-only at the same
#         path, so the args can name the host's paths. Its files must be
#         readable by uid 65532 or group adm (4), e.g. 0644, or 0640 root:adm
#         as rsyslog makes them on Debian.
#       - STATEDIR: an absolute path is a host directory (created if missing,
#         chowned to 65532:65532), mounted read-write at the same path; a
#         plain name is a podman volume, mounted at /var/lib/bouncewatch (use
#         --state.file=/var/lib/bouncewatch/state).
#       - Read-only root file system (no tmpfs either), user 65532:65532 with
#         the supplementary group adm, no capabilities, no-new-privileges.
#       - TZ is the caller's TZ, else the host's zone, so that syslog time
#         stamps are read as a bouncewatch on the host would read them.
#       - BW_CONTAINER_RO: more host paths (space-separated; e.g. a
#         --config.file), mounted read-only at the same paths.
#   bw_container_stop NAME [SECONDS]
#       SIGTERM (podman stop), SIGKILL after SECONDS (default 30); returns
#       bouncewatch's exit status (0 after a clean SIGTERM shutdown). The
#       container stays, stopped, for bw_container_logs.
#   bw_container_kill NAME [SIGNAL]       (default KILL) and wait for the exit
#   bw_container_logs NAME                bouncewatch's stdout and stderr
#   bw_container_wait_ready NAME PORT [SECONDS]   (default 30) nonzero and the
#       container's log on stderr if /-/ready is not 200 in time
#   bw_container_build    builds the image once (bw_container_run calls it)
#   bw_podman ARGS...     podman with this file's storage and flags (inspect...)
#   bw_container_cleanup  removes every container and volume of the storage,
#       and the storage itself if this file created it; call it from the
#       scenario's EXIT trap
#
#   BW_CONTAINER_DIR      podman's storage (root, runroot, tmp) and the image;
#                         default: a /tmp/bw-container.* directory made when
#                         this file is sourced. Keep the path short: podman's
#                         sockets live under it.
#   BW_CONTAINER_IMAGE    default localhost/bouncewatch:e2e
#
# Why the podman flags: this is made to run in a sandbox with no registry, no
# systemd and no overlay: runc (crun is not installed), rlimits at most the
# sandbox's hard limits (rootful podman asks for nofile 1048576 and runc
# fails with "error setting rlimit"), cgroupfs, events in a file, and vfs
# storage in a directory of our own. The image is one 15 MB layer.

BW_CONTAINER_IMAGE=${BW_CONTAINER_IMAGE:-localhost/bouncewatch:e2e}
BW_CONTAINER_UID=65532 # USER in deploy/Dockerfile
_bw_container_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_bw_container_owndir=""
if [[ -z ${BW_CONTAINER_DIR:-} ]]; then
	BW_CONTAINER_DIR=$(mktemp -d /tmp/bw-container.XXXXXX)
	_bw_container_owndir=$BW_CONTAINER_DIR
fi

_bw_container_dir() {
	mkdir -p "$BW_CONTAINER_DIR/root" "$BW_CONTAINER_DIR/run" "$BW_CONTAINER_DIR/tmp"
}

# min(hard limit, cap): podman must not ask for more than the hard limit.
_bw_container_limit() {
	local hard=$1 cap=$2
	if [[ $hard == unlimited ]] || ((hard > cap)); then echo "$cap"; else echo "$hard"; fi
}

bw_podman() {
	_bw_container_dir || return
	podman --root "$BW_CONTAINER_DIR/root" --runroot "$BW_CONTAINER_DIR/run" \
		--tmpdir "$BW_CONTAINER_DIR/tmp" --storage-driver vfs \
		--runtime runc --cgroup-manager cgroupfs --events-backend file "$@"
}

bw_container_build() {
	_bw_container_dir || return
	bw_podman image exists "$BW_CONTAINER_IMAGE" && return 0
	"$_bw_container_repo/deploy/build-image.sh" --tag "$BW_CONTAINER_IMAGE" \
		--root "$BW_CONTAINER_DIR/root" --runroot "$BW_CONTAINER_DIR/run" --storage-driver vfs >/dev/null
}

_bw_container_tz() {
	if [[ -n ${TZ:-} ]]; then
		echo "$TZ"
	elif [[ -s /etc/timezone ]]; then
		head -1 /etc/timezone
	elif [[ -L /etc/localtime ]]; then
		readlink /etc/localtime | sed 's|.*/zoneinfo/||'
	else
		echo UTC
	fi
}

bw_container_run() {
	if (($# < 5)) || [[ $5 != -- ]]; then
		echo "usage: bw_container_run NAME PORT LOGDIR STATEDIR -- BOUNCEWATCH-ARGS..." >&2
		return 2
	fi
	local name=$1 port=$2 logdir=$3 statedir=$4 a p listen=1
	shift 5
	bw_container_build || return
	local mounts=(-v "$logdir:$logdir:ro")
	if [[ $statedir == /* ]]; then
		mkdir -p "$statedir" && chown "$BW_CONTAINER_UID:$BW_CONTAINER_UID" "$statedir" || return
		mounts+=(-v "$statedir:$statedir:rw")
	else
		mounts+=(-v "$statedir:/var/lib/bouncewatch:rw")
	fi
	for p in ${BW_CONTAINER_RO:-}; do
		mounts+=(-v "$p:$p:ro")
	done
	for a in "$@"; do
		[[ $a == --web.listen-address* ]] && listen=0
	done
	((listen)) && set -- "$@" "--web.listen-address=127.0.0.1:$port"
	bw_podman rm --force --volumes --ignore "$name" >/dev/null 2>&1 || true
	local nofile nproc
	nofile=$(_bw_container_limit "$(ulimit -Hn)" 65536)
	nproc=$(_bw_container_limit "$(ulimit -Hu)" 4096)
	bw_podman run --detach --name "$name" \
		--read-only --read-only-tmpfs=false \
		--user "$BW_CONTAINER_UID:$BW_CONTAINER_UID" --group-add 4 \
		--cap-drop ALL --security-opt no-new-privileges \
		--network host \
		--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
		--env "TZ=$(_bw_container_tz)" \
		"${mounts[@]}" \
		"$BW_CONTAINER_IMAGE" "$@" >/dev/null
}

bw_container_stop() {
	local name=$1 secs=${2:-30}
	local rc
	bw_podman stop --time "$secs" "$name" >/dev/null || return
	rc=$(bw_podman inspect --format '{{.State.ExitCode}}' "$name") || return
	return "$rc"
}

bw_container_kill() {
	local name=$1 sig=${2:-KILL}
	bw_podman kill --signal "$sig" "$name" >/dev/null || return
	bw_podman wait "$name" >/dev/null
}

bw_container_logs() {
	bw_podman logs "$1"
}

bw_container_wait_ready() {
	local name=$1 port=$2 secs=${3:-30} i
	for ((i = 0; i < secs * 5; i++)); do
		curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/-/ready" && return 0
		if [[ $(bw_podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null) != true ]]; then
			echo "bw_container_wait_ready: container $name is not running; its log:" >&2
			bw_podman logs "$name" 2>&1 | tail -20 >&2
			return 1
		fi
		sleep 0.2
	done
	echo "bw_container_wait_ready: $name not ready on port $port after ${secs}s: $(curl -s --max-time 2 "http://127.0.0.1:$port/-/ready")" >&2
	bw_podman logs "$name" 2>&1 | tail -20 >&2
	return 1
}

bw_container_cleanup() {
	[[ -n ${BW_CONTAINER_DIR:-} && -d $BW_CONTAINER_DIR ]] || return 0
	bw_podman rm --all --force --time 0 >/dev/null 2>&1 || true
	bw_podman volume rm --all --force >/dev/null 2>&1 || true
	if [[ -n $_bw_container_owndir ]]; then
		rm -rf "$_bw_container_owndir"
		_bw_container_owndir="" BW_CONTAINER_DIR=""
	fi
	return 0
}
