#!/bin/sh
# Build the tensorsmith images locally, with no image registry: tensorsmith/base:bookworm (debootstrap, once),
# tensorsmith/postgres:15, tensorsmith/server and tensorsmith/worker (tagged with the tensorsmith version and
# `latest`). Run as a user who may use Docker, from anywhere:
#
#   docker/build.sh               stage the context and build all images
#   docker/build.sh server        only the named images (base, postgres, server, worker)
#   docker/build.sh --stage-only  only stage docker/.context (e.g. for another builder)
#
# The context docker/.context (git-ignored) holds the project's source, the torch CPU wheel (CPU builds of
# torch are not on PyPI: TORCH_WHEEL_DIR, default /opt/wheels, or download it once from PyTorch's CPU index)
# and the build machine's extra CA certificates (EXTRA_CA_DIR, default /usr/local/share/ca-certificates) for a
# TLS-intercepting proxy; the Dockerfile mounts those for the pip calls only. Needs BuildKit (any Docker
# >= 23, or DOCKER_BUILDKIT=1 on 20.10). Where Docker has no bridge network (dockerd --bridge=none) the
# build steps use the host's network.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
ctx="$here/.context"
DOCKER=${DOCKER:-docker}
TORCH_WHEEL_DIR=${TORCH_WHEEL_DIR:-/opt/wheels}
EXTRA_CA_DIR=${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$repo/tensorsmith/__init__.py")
torch_version=$(sed -n 's/^ *"torch==\([^"]*\)".*/\1/p' "$repo/pyproject.toml")

stage() {
    rm -rf "$ctx"
    mkdir -p "$ctx/src" "$ctx/wheels" "$ctx/ca"
    (cd "$repo" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - pyproject.toml README.md \
        tensorsmith fuzzer oracles server) | tar -C "$ctx/src" -xf -
    cp -r "$here/bin" "$here/build" "$ctx/"
    # The server's templates, static files and migration template are not Python modules, so a wheel
    # carries them only when pyproject.toml declares them as package data. Until it does, the staged copy
    # (never the repository's file) gets the declaration, and says so.
    if ! grep -q '^\[tool.setuptools.package-data\]' "$ctx/src/pyproject.toml"; then
        printf '\n[tool.setuptools.package-data]\nserver = ["static/*", "templates/*", "migrations/*.mako"]\n' \
            >> "$ctx/src/pyproject.toml"
        echo "warning: pyproject.toml declares no package data; the staged copy declares the server's" >&2
    fi
    wheel=$(ls "$TORCH_WHEEL_DIR"/torch-"$torch_version"+cpu-cp311-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        echo "error: no torch-$torch_version+cpu wheel for Python 3.11 in TORCH_WHEEL_DIR=$TORCH_WHEEL_DIR;" \
            "fetch it once with: pip download --no-deps --python-version 3.11 --only-binary=:all:" \
            "-d $TORCH_WHEEL_DIR --index-url https://download.pytorch.org/whl/cpu torch==$torch_version" >&2
        exit 1
    fi
    ln "$wheel" "$ctx/wheels/" 2>/dev/null || cp "$wheel" "$ctx/wheels/"
    for cert in "$EXTRA_CA_DIR"/*.crt; do
        [ -f "$cert" ] && cp "$cert" "$ctx/ca/"
    done
    echo "staged $ctx: source, $(basename "$wheel"), $(ls "$ctx/ca" | wc -l) extra CA certificate(s)"
}

build() {  # build IMAGE:TAG... -- docker build arguments
    echo "building $1"
    DOCKER_BUILDKIT=1 $DOCKER build --network "$network" --progress plain "$@"
}

network=default
$DOCKER network inspect bridge >/dev/null 2>&1 || network=host
images=${*:-base postgres server worker}
if [ "$images" = --stage-only ]; then
    stage
    exit 0
fi
case " $images " in *" server "* | *" worker "*) stage ;; esac
for image in $images; do
    case $image in
    base) "$here/base/build-base.sh" tensorsmith/base:bookworm ;;
    postgres)
        "$here/base/build-base.sh" tensorsmith/base:bookworm
        build -t tensorsmith/postgres:15 "$here/postgres"
        ;;
    server | worker)
        "$here/base/build-base.sh" tensorsmith/base:bookworm
        build -t "tensorsmith/$image:$version" -t "tensorsmith/$image:latest" --target "$image" \
            -f "$here/Dockerfile" "$ctx"
        ;;
    *)
        echo "error: unknown image '$image'; valid: base, postgres, server, worker" >&2
        exit 2
        ;;
    esac
done
# Smoke checks: the installed packages import and carry their data files (a wheel without the templates
# builds fine and fails only when the server starts).
case " $images " in *" server "*)
    $DOCKER run --rm --network none --entrypoint python3 "tensorsmith/server:$version" -c \
        'import server.main as m, pathlib; p = pathlib.Path(m.__file__).parent
assert (p / "static/app.js").is_file() and (p / "templates/base.html").is_file(), "no templates in the image"
import tensorsmith.cli; print("server image: ok")' ;;
esac
case " $images " in *" worker "*)
    $DOCKER run --rm --network none --entrypoint python3 "tensorsmith/worker:$version" -c \
        'import torch, onnxruntime, openvino, tvm, iree.runtime, tensorsmith.campaign
print("worker image: torch", torch.__version__, "onnxruntime", onnxruntime.__version__, "openvino",
      openvino.__version__, "tvm", tvm.__version__)' ;;
esac
$DOCKER image ls --filter 'reference=tensorsmith/*'
