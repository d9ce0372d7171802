#!/bin/sh
# Greets whoever is named, with what the build wrote into the image.
if [ "$1" = "--check" ]; then exit 0; fi
echo "$(cat messages/greeting), $1! ($(cat messages/motd)) — running as $(id -un) in $(pwd)"
