#!/usr/bin/env bash
# Build a stand-in for the Dockerfile's base image from Debian packages, for machines that can
# reach Debian's archive but not a container registry. It is tagged with the base image's name
# and tag; build the real Dockerfile on it with
#   docker build --network host --build-arg BASE_IMAGE=python:3.11.13-slim-bookworm .
#
#   sudo scripts/standin_base_image.sh         # name:tag from the Dockerfile's ARG BASE_IMAGE
#   sudo scripts/standin_base_image.sh python:3.11-slim-bookworm
#
# Needs: debootstrap, a running Docker engine. The stand-in has what the official slim image
# offers the Dockerfile: python3.11 with pip on PATH as python/pip, apt, and Debian slim's
# dpkg/apt settings.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-$(awk 'toupper($1)=="FROM"{print $2; exit}' Dockerfile)}
case "$tag" in *'$'*) tag=$(awk -F= '/^ARG BASE_IMAGE=/{print $2; exit}' Dockerfile) ;; esac
# A digest cannot be given to a local image: the stand-in takes the name and tag only, and the
# build is pointed at it with --build-arg BASE_IMAGE=<name:tag> (tests/container does that).
tag=${tag%%@*}
[ -n "$tag" ] || { echo "cannot tell the base image's name from the Dockerfile" >&2; exit 2; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates bookworm "$root" "$mirror"
# The official image's pip installs into the system interpreter; Debian marks it externally managed.
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
# Where this machine reaches the registries through a TLS-inspecting proxy, the host trusts extra
# CAs; the stand-in trusts the same ones, or pip and apt inside the build cannot connect.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi
# Debian's slim images (the official python image's base) keep docs, man pages and translations
# out of every later package install, and drop downloaded .debs after each install; the stand-in
# does the same, so a layer installed on top of it has the size it would have on the real base.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
CFG
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* "$root"/usr/share/locale/*/
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$tag"
echo "stand-in base image: $tag"
