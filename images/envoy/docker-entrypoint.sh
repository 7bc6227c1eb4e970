#!/usr/bin/env sh
# Entry point of envoy-pipeline's local Envoy image, behaving like the official image's
# (ci/docker-entrypoint.sh in envoyproxy/envoy), with setpriv in place of su-exec.
set -e

loglevel="${loglevel:-}"
USERID=$(id -u)

# Arguments that look like options are Envoy's: `docker run IMAGE --version`.
if [ "${1#-}" != "$1" ]; then
	set -- envoy "$@"
fi

if [ "$1" = envoy ] && [ -n "$loglevel" ]; then
	set -- "$@" --log-level "$loglevel"
fi

if [ "$ENVOY_UID" != 0 ] && [ "$USERID" = 0 ]; then
	if [ -n "$ENVOY_UID" ]; then
		usermod -u "$ENVOY_UID" envoy
	fi
	if [ -n "$ENVOY_GID" ]; then
		groupmod -g "$ENVOY_GID" envoy
	fi
	# Let the envoy user write to the container's log streams (access logs to /dev/stdout).
	chown envoy:envoy /dev/stdout /dev/stderr
	exec setpriv --reuid=envoy --regid=envoy --init-groups "$@"
else
	exec "$@"
fi
