#!/bin/sh
# Create the secrets the compose setup reads, as random values, in docker/secrets/ (git-ignored) or in the
# folder given as the first argument. Existing files are kept, so running it again changes nothing; put your
# own value in a file to choose it. Files are world-readable inside an owner-only folder: Docker (without
# Swarm) bind-mounts them with their own mode, and the containers run as unprivileged users.
set -eu
dir=${1:-$(cd "$(dirname "$0")" && pwd)/secrets}
mkdir -p "$dir"
chmod 0700 "$dir"
for name in worker_token admin_password secret_key postgres_password; do
    if [ ! -s "$dir/$name" ]; then
        (umask 022 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-32 > "$dir/$name")
        echo "created $dir/$name"
    fi
done
