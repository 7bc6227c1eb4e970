#!/bin/sh
# Builds the root file system of envoy-pipeline's local Debian base image (no registry needed):
# a debootstrap "minbase" system plus ca-certificates, trimmed like the official debian:*-slim
# images. The harness imports the result with `tar -C DIR -c . | docker import - ...`.
#
#   usage: build-rootfs.sh TARGET_DIR [SUITE] [MIRROR] [SECURITY_MIRROR]
#   DEBOOTSTRAP_CACHE_DIR (optional, absolute): keep the downloaded .debs there for the next run
#   (debootstrap checks them against the Packages index before use).
#
# Needs root and debootstrap. Takes ~30 s. Everything below is plain Debian: no host files are
# copied in (the node image adds the host's CA bundle itself; see images/node/Dockerfile).
set -eu

target=$1
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}
security=${4:-http://deb.debian.org/debian-security}

if [ -n "${DEBOOTSTRAP_CACHE_DIR:-}" ]; then
	mkdir -p "$DEBOOTSTRAP_CACHE_DIR"
	set -- --cache-dir="$DEBOOTSTRAP_CACHE_DIR"
else
	set --
fi
debootstrap --variant=minbase --include=ca-certificates "$@" "$suite" "$target" "$mirror"

cd "$target"

# Package sources as in the official image: the release, its updates and security updates.
cat > etc/apt/sources.list <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES

# Like debian:*-slim: leave out documentation (but not copyright files), manual pages, info pages
# and translations, now and for every package installed later.
mkdir -p etc/dpkg/dpkg.cfg.d
cat > etc/dpkg/dpkg.cfg.d/docker-slim <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find usr/share/doc -mindepth 1 -depth -type d -empty -delete
# Files only: directories stay (openjdk's postinst links into /usr/share/man/man1).
for d in usr/share/man usr/share/groff usr/share/info usr/share/lintian usr/share/linda usr/share/locale; do
	if [ -d "$d" ]; then find "$d" -mindepth 1 ! -type d -delete; fi
done

# Keep images small: no package caches or lists after apt runs (as the official image does).
cat > etc/apt/apt.conf.d/docker-clean <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
echo 'Acquire::Languages "none";' > etc/apt/apt.conf.d/docker-no-languages

# Packages installed in an image build must not try to start their services (prometheus's
# postinst would); this is what docker's own debootstrap recipe always did.
printf '#!/bin/sh\nexit 101\n' > usr/sbin/policy-rc.d
chmod 0755 usr/sbin/policy-rc.d

# Left over from debootstrap or provided by Docker at run time.
rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* var/log/bootstrap.log \
	var/log/apt/* var/log/dpkg.log var/log/alternatives.log
rm -f etc/hostname
: > etc/resolv.conf
