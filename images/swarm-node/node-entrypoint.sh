#!/bin/sh
# Starts the node's dockerd in the foreground. On a cgroup v2 host the container's processes move
# into a child cgroup first so that dockerd may enable controllers for its own containers (what
# moby's hack/dind does); cgroup v1 needs nothing.
set -eu
# Without --privileged (a host whose own bounding set lacks a capability cannot grant them all),
# /sys and the cgroup hierarchies are mounted read-only: remount them writable for dockerd, which
# creates its containers' cgroups there. Needs CAP_SYS_ADMIN and no AppArmor profile.
if grep -q ' /sys sysfs ro' /proc/mounts; then
  mount -o remount,rw /sys
fi
if grep -q ' /sys/fs/cgroup/[^ ]* cgroup ro' /proc/mounts; then
  # Read-only cgroup v1 hierarchies cannot be remounted in place: mount them afresh, writable.
  controllers=$(awk '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] !~ /^(ro|rw|nosuid|nodev|noexec|relatime)$/) c = c (c ? "," : "") o[i]; print c; c = "" }' /proc/mounts)
  umount -R /sys/fs/cgroup
  mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
  for c in $controllers; do
    dir=/sys/fs/cgroup/$(echo "$c" | sed 's/^name=//')
    mkdir -p "$dir"
    mount -t cgroup -o "$c" cgroup "$dir"
  done
fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control || :
fi
rm -f /var/run/docker.pid
exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false --storage-driver=overlay2 "$@"
