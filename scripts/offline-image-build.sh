#!/usr/bin/env bash
# Build the Dockerfile without a container registry, then run commands inside the images.
#
#   scripts/offline-image-build.sh            # `make image-offline`; CI runs it too
#
# 1. debootstrap makes the base the Dockerfile's FROM stands for (Debian bookworm + its
#    python3, 3.11) from Debian packages, slimmed as Debian's -slim images are (no docs, man
#    pages or translations), and imports it into buildah's local storage;
# 2. `buildah bud --isolation chroot --storage-driver vfs` builds the Dockerfile unchanged for
#    each of $TARGETS, with --build-arg BASE_IMAGE=<that base>; pip reaches PyPI as on this
#    machine (the machine's CA bundle and a pip.conf naming it are mounted for the build only).
#    No --layers: vfs copies the whole tree for every cached step, which costs more than
#    installing the bot's dependencies twice (once per image);
# 3. inside the bot's image (app): `approval-bot --help`, `approval-bot migrate`, no
#    pipelines-only package, `python -m pipelines compile` (so `upload` works from the bot's
#    pod), the time from `buildah run` to /readyz (scripts/image-ready.py), and its size
#    against BOT_IMAGE_LIMIT_MB; inside the pipelines' image: the KFP components load_data →
#    validate_data by their own compiled command (scripts/image-smoke.py); inside the serving
#    image: `mlserver --help` and the model's pins.
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
TARGETS="${TARGETS:-app pipelines}"   # add "serving" to also build the serving runtime image
HOST_CA=/etc/ssl/certs/ca-certificates.crt
# The bot's image may not grow past this (uncompressed layers, as `buildah images` counts):
# README "Deploy on Kubernetes", 1. Images. Today's is about 327 MB (its shared objects
# stripped: the Dockerfile's build stage); the base is about 125.
BOT_IMAGE_LIMIT_MB=350
# What only the pipelines need: none of it may be in the bot's image (pyproject.toml's extra).
PIPELINES_ONLY="mlflow sklearn pandas pyarrow scipy matplotlib"

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
# What Debian's -slim images leave out (debuerreotype's scripts/.slimify-excludes, keeping its
# .slimify-includes' copyright files and locale.alias), as python:3.11-slim-bookworm does.
find "$WORK"/rootfs/usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete
find "$WORK"/rootfs/usr/share/doc -mindepth 1 -type d -empty -delete
find "$WORK"/rootfs/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
rm -rf "$WORK"/rootfs/usr/share/{man,info,groff,linda}/* "$WORK"/rootfs/usr/share/lintian/overrides/*
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
tag_of() { if [ "$1" = app ]; then echo "$IMAGE"; else echo "${IMAGE/approval-bot:/approval-bot-$1:}"; fi; }
for target in $TARGETS; do
    tag=$(tag_of "$target")
    stage=(--target "$target")  # the pipelines' image: the bot's target with their extra
    [ "$target" != pipelines ] || stage=(--target app --build-arg EXTRAS=pipelines)
    say "buildah bud ${stage[*]} -t $tag"
    bah bud --isolation chroot --pull-never "${stage[@]}" \
        --build-arg BASE_IMAGE="$BASE" \
        --volume "$HOST_CA:$HOST_CA:ro" --volume "$WORK/pip.conf:/etc/pip.conf:ro" \
        --tag "$tag" --file Dockerfile . >"$WORK/build-$target.log" 2>&1 \
        || { tail -40 "$WORK/build-$target.log" >&2; die "buildah bud --target $target failed (log above)"; }
done
built=$(date +%s)
say "built in $((built - base_done)) s"

# 3. Commands inside the images, as their non-root user.
run() {
    bah run --isolation chroot --volume "$PWD/scripts:/scripts:ro" \
        --volume "$PWD/requirements:/requirements:ro" "$container" -- "$@"
}
enter() {  # enter TARGET: a container of that image, checked to run as uid 10001
    local tag user
    tag=$(tag_of "$1")
    user=$(bah inspect --format '{{.OCIv1.Config.User}}' "$tag")
    [ "${user%%:*}" = 10001 ] || die "$tag runs as '$user', expected the non-root uid 10001"
    container=$(bah from --pull-never "$tag")
    run python3 -c 'import os, sys; sys.exit(os.getuid() != 10001)' \
        || die "commands in $tag do not run as uid 10001"
}
megabytes() {  # the size `buildah images` shows ("312 MB", "1.08 GB": powers of 1000), in MB
    bah images --format '{{.Size}}' "$1" | python3 -c 'import sys
number, unit = sys.stdin.read().split()
print(round(float(number) * {"B": 1e-6, "kB": 1e-3, "MB": 1, "GB": 1e3}[unit]))'
}
if [[ " $TARGETS " == *" app "* ]]; then
    enter app
    say "inside the bot's image: approval-bot --help"
    run approval-bot --help | grep -q "serve" || die "approval-bot --help does not list 'serve'"
    say "inside: approval-bot migrate (SQLite under /tmp)"
    run env APPROVAL_BOT_DATABASE_URL=sqlite:////tmp/smoke.db approval-bot migrate
    say "inside: none of $PIPELINES_ONLY"
    run python3 -c 'import importlib.util as u, sys
found = [m for m in sys.argv[1:] if u.find_spec(m)]
sys.exit(f"the bot image holds {found}: they belong in the pipelines image" if found else 0)' \
        $PIPELINES_ONLY || die "the bot's image holds packages only the pipelines need"
    say "inside: the local launcher refuses to start here (no pipelines' packages)"
    refusal=$(run timeout 60 env APPROVAL_BOT_DATABASE_URL=sqlite:////tmp/smoke.db \
        APPROVAL_BOT_LAUNCHER=local MLFLOW_TRACKING_URI=http://127.0.0.1:9 \
        approval-bot serve --host 127.0.0.1 --port 18999 2>&1) \
        && die "approval-bot serve started a local launcher without mlflow and scikit-learn"
    grep -q "APPROVAL_BOT_LAUNCHER=local .* needs mlflow, scikit-learn" <<<"$refusal" \
        || die "the local launcher's refusal does not say why: $refusal"
    say "inside: python -m pipelines compile (what \`pipelines upload\` runs in the bot's pod)"
    run python3 -m pipelines compile --output-dir /tmp/compiled >/dev/null
    say "inside: approval-bot serve until /readyz answers"
    serve_started=$(date +%s.%N)
    ready_at=$(run env APPROVAL_BOT_DATABASE_URL=sqlite:////tmp/smoke.db python3 /scripts/image-ready.py \
        | sed -n 's/^ready_at=//p') || die "approval-bot serve did not get ready in the image"
    ready_seconds=$(python3 -c "print(f'{$ready_at - $serve_started:.2f}')")
    bah rm "$container" >/dev/null
    bot_mb=$(megabytes "$IMAGE")
    ((bot_mb <= BOT_IMAGE_LIMIT_MB)) \
        || die "the bot's image is $bot_mb MB, over its limit of $BOT_IMAGE_LIMIT_MB MB (README \"Deploy on Kubernetes\"): what grew it?"
fi
if [[ " $TARGETS " == *" pipelines "* ]]; then
    enter pipelines
    say "inside the pipelines' image: KFP components load_data -> validate_data"
    run python3 /scripts/image-smoke.py
    bah rm "$container" >/dev/null
fi
if [[ " $TARGETS " == *" serving "* ]]; then
    enter serving
    say "inside the serving image: mlserver --help, and the model's pins (requirements/model.txt)"
    run mlserver --help >/dev/null
    run python3 /scripts/check-pins.py /requirements/model.txt
    bah rm "$container" >/dev/null
fi
finished=$(date +%s)

for target in $TARGETS; do
    tag=$(tag_of "$target")
    say "image $tag: $(bah images --format '{{.Size}}' "$tag") (uncompressed layers)"
done
[ -z "${ready_seconds:-}" ] || say "the bot's image: $bot_mb MB (limit $BOT_IMAGE_LIMIT_MB), buildah run to /readyz in $ready_seconds s"
say "ok: base $((base_done - started)) s, build $((built - base_done)) s, checks $((finished - built)) s, total $((finished - started)) s"
