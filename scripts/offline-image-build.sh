#!/usr/bin/env bash
# Build the Dockerfile without a container registry, then run commands inside the image.
#
#   scripts/offline-image-build.sh            # `make image-offline`; CI runs it too
#
# 1. debootstrap makes the base the Dockerfile's FROM stands for (Debian bookworm + its
#    python3, 3.11) from Debian packages, and imports it into buildah's local storage;
# 2. `buildah bud --isolation chroot --storage-driver vfs` builds the Dockerfile unchanged,
#    with --build-arg BASE_IMAGE=<that base>; pip reaches PyPI as on this machine (the
#    machine's CA bundle and a pip.conf naming it are mounted for the build only);
# 3. inside the built image: `approval-bot --help`, `python -m pipelines --help`, and the KFP
#    components load_data → validate_data run by their own compiled command
#    (scripts/image-smoke.py).
#
# Needs root and the Debian packages buildah and debootstrap (installed with apt-get when
# missing). Everything lives under $APPROVAL_BOT_IMAGE_WORK (default /var/tmp/approval-bot-image)
# and is removed at the end unless KEEP=1. Prints the time taken and the image size.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK="${APPROVAL_BOT_IMAGE_WORK:-/var/tmp/approval-bot-image}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
BASE=localhost/approval-bot-base:bookworm-python3.11
IMAGE="localhost/approval-bot:$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
TARGETS="${TARGETS:-app}"   # add "serving" to also build the serving runtime image
HOST_CA=/etc/ssl/certs/ca-certificates.crt

say() { printf 'image-offline: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap and buildah's chroot isolation); run it with sudo"
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
    say "installing ${missing[*]} (apt-get)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

storage=(--root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
bah() { buildah "${storage[@]}" "$@"; }
cleanup() {
    if [ "${KEEP:-0}" != 1 ]; then
        bah rm --all >/dev/null 2>&1 || true
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
rm -rf "$WORK"
mkdir -p "$WORK"
started=$(date +%s)

# 1. The base: what python:3.11-slim-bookworm is, made from Debian packages.
say "debootstrap $SUITE (minbase + python3, python3-venv, ca-certificates) from $MIRROR"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
python_version=$(chroot "$WORK/rootfs" python3 --version)
[[ "$python_version" == "Python 3.11."* ]] || die "the base has $python_version, expected Python 3.11"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
rm -rf "$WORK/rootfs"
container=$(bah from scratch)
bah add "$container" "$WORK/rootfs.tar" / >/dev/null
bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$container"
bah commit --quiet --rm "$container" "$BASE" >/dev/null
rm -f "$WORK/rootfs.tar"
base_done=$(date +%s)
say "base $BASE ($python_version) in $((base_done - started)) s"

# 2. The Dockerfile, as users build it, on that base.
printf '[global]\ncert = %s\n' "$HOST_CA" >"$WORK/pip.conf"
for target in $TARGETS; do
    tag="$IMAGE"
    [ "$target" = app ] || tag="${IMAGE/approval-bot:/approval-bot-$target:}"
    say "buildah bud --target $target -t $tag"
    bah bud --isolation chroot --pull-never --target "$target" \
        --build-arg BASE_IMAGE="$BASE" \
        --volume "$HOST_CA:$HOST_CA:ro" --volume "$WORK/pip.conf:/etc/pip.conf:ro" \
        --tag "$tag" --file Dockerfile . >"$WORK/build-$target.log" 2>&1 \
        || { tail -40 "$WORK/build-$target.log" >&2; die "buildah bud --target $target failed (log above)"; }
done
built=$(date +%s)
say "built in $((built - base_done)) s"

# 3. Commands inside the image, as its non-root user.
container=$(bah from --pull-never "$IMAGE")
user=$(bah inspect --format '{{.OCIv1.Config.User}}' "$IMAGE")
[ "${user%%:*}" = 10001 ] || die "the image runs as '$user', expected the non-root uid 10001"
run() {
    bah run --isolation chroot --volume "$PWD/scripts:/scripts:ro" \
        --volume "$PWD/requirements:/requirements:ro" "$container" -- "$@"
}
run python3 -c 'import os, sys; sys.exit(os.getuid() != 10001)' \
    || die "commands in the image do not run as uid 10001"
say "inside: approval-bot --help"
run approval-bot --help | grep -q "serve" || die "approval-bot --help does not list 'serve'"
say "inside: approval-bot migrate (SQLite under /tmp)"
run env APPROVAL_BOT_DATABASE_URL=sqlite:////tmp/smoke.db approval-bot migrate
say "inside: KFP components load_data -> validate_data"
run python3 /scripts/image-smoke.py
bah rm "$container" >/dev/null
if [[ " $TARGETS " == *" serving "* ]]; then
    serving="${IMAGE/approval-bot:/approval-bot-serving:}"
    container=$(bah from --pull-never "$serving")
    say "inside the serving image: mlserver --help, and the model's pins (requirements/model.txt)"
    run mlserver --help >/dev/null
    run python3 /scripts/check-pins.py /requirements/model.txt
    bah rm "$container" >/dev/null
fi
finished=$(date +%s)

for target in $TARGETS; do
    tag="$IMAGE"
    [ "$target" = app ] || tag="${IMAGE/approval-bot:/approval-bot-$target:}"
    say "image $tag: $(bah images --format '{{.Size}}' "$tag") (uncompressed layers)"
done
say "ok: base $((base_done - started)) s, build $((built - base_done)) s, checks $((finished - built)) s, total $((finished - started)) s"
