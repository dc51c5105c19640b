#!/bin/sh
# Print the container tool `make image` builds with: the first of docker, podman, buildah that
# works here. docker counts only when its daemon answers (its client alone, with no daemon,
# fails the build with "Cannot connect to the Docker daemon"); podman when `podman info` works;
# buildah when installed (it needs no daemon). Nothing works: one line on stderr saying what was
# tried, nothing on stdout, exit 1. `make image CONTAINER_TOOL=...` skips this choice.
tried=""
if command -v docker > /dev/null 2>&1; then
    if timeout 10 docker info > /dev/null 2>&1; then
        echo docker
        exit 0
    fi
    tried="docker (installed, but its daemon does not answer)"
fi
if command -v podman > /dev/null 2>&1; then
    if timeout 20 podman info > /dev/null 2>&1; then
        echo podman
        exit 0
    fi
    tried="${tried:+$tried, }podman (installed, but \`podman info\` fails)"
fi
if command -v buildah > /dev/null 2>&1; then
    echo buildah
    exit 0
fi
echo "make image: no container tool works here: ${tried:-none of docker, podman, buildah is installed}; install one, or set CONTAINER_TOOL=..." >&2
exit 1
