#!/bin/sh
# The entrypoint of hearth's development image (the Dockerfile's `dev` stage), for Tilt's
# live update: Tilt copies a newly built binary to /live/hearth with `tar`, then runs
# `kill -HUP 1` in the container.
#
# Runs /live/hearth when a live update has put one there, else the image's /hearth, with
# the container's arguments. On SIGHUP it stops hearth (SIGTERM: a graceful drain) and
# starts it again, from /live/hearth. SIGTERM and SIGINT are passed on, and the container
# ends with hearth's exit status; so does any other exit of hearth, as in the release
# image: a one-shot command (`migrate`, `migrate wait`) ends its Job or init container,
# and a crash is the kubelet's to restart.
restart=
stopping=
signalled=
child=

# The traps run once `wait` has returned early: they mark why, so the loop waits again.
trap 'signalled=1; [ -n "$stopping" ] || restart=1; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' HUP
trap 'signalled=1; stopping=1; restart=; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM INT

while :; do
  bin=/hearth
  if [ -x /live/hearth ]; then
    bin=/live/hearth
  fi
  "$bin" "$@" &
  child=$!
  while :; do
    signalled=
    wait "$child"
    status=$?
    # `wait` returns early when a trapped signal arrives, with hearth still draining:
    # wait again while it is there (a zombie counts until waited for).
    if [ -z "$signalled" ] || ! kill -0 "$child" 2>/dev/null; then
      break
    fi
  done
  child=
  if [ -z "$restart" ]; then
    exit "$status"
  fi
  restart=
  echo "hearth-live: hearth stopped ($status); starting it again" >&2
done
