#!/bin/sh
# One job after another: JOB_MB megabytes held in a shell variable for JOB_SECONDS, then
# freed (the variable is emptied); each job is logged to /tmp/jobs.log, which grows the
# writable layer (ephemeral storage). Exits on SIGTERM, as a container's pid 1 must.
trap 'exit 0' TERM INT
n=0
while :; do
    n=$((n + 1))
    buf=$(head -c $((JOB_MB * 1000000)) /dev/zero | tr '\0' x)
    echo "job $n: holding ${#buf} bytes" | tee -a /tmp/jobs.log  # a log in the writable layer
    sleep "$JOB_SECONDS" &
    wait $!
    buf=
done
