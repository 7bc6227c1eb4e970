#!/bin/sh
# As in the official Node.js images: `docker run IMAGE --version` or `docker run IMAGE app.js`
# runs node; a command that exists (npm, bash, ...) runs as given.
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1")" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
	set -- node "$@"
fi
exec "$@"
