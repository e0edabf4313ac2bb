#!/usr/bin/env bash
# Run a command with a JACK dummy server (48 kHz, period 256) that belongs to this run only.
# The server gets a unique name and is stopped by a trap whatever happens.
set -u
name="audiolab-test-$$-$RANDOM"
export JACK_DEFAULT_SERVER="$name"
export JACK_NO_START_SERVER=1
export AUDIOLAB_JACK_SERVER="$name"
log="$(mktemp -t audiolab-jackd.XXXXXX.log)"
# Server options before -d (-R: realtime off is -r, so we leave the default), driver options after.
# JACK keeps a registry of at most 8 servers in /dev/shm; servers that died badly leave their
# entries (and semaphores) behind, and a full registry makes every new server fail. With no
# jackd running on this machine, nothing in it is live: start from a clean registry.
jackd_running() {
    local comm
    for comm in /proc/[0-9]*/comm; do
        [ "$(cat "$comm" 2>/dev/null)" = jackd ] && return 0
    done
    return 1
}
if ! jackd_running; then
    rm -f /dev/shm/jack-shm-registry /dev/shm/jack_sem.* 2>/dev/null
fi
jackd -n "$name" -d dummy -r 48000 -p 256 >"$log" 2>&1 &
jack_pid=$!
cleanup() {
    kill "$jack_pid" 2>/dev/null
    # SIGKILL leaves the server's slot in /dev/shm/jack-shm-registry (JACK allows 8): give
    # SIGTERM up to 10 s before resorting to it.
    for _ in $(seq 50); do kill -0 "$jack_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$jack_pid" 2>/dev/null
    rm -f "$log"
}
trap cleanup EXIT INT TERM
if ! jack_wait -w -t 10 >/dev/null 2>&1; then
    echo "with_jack.sh: the JACK dummy server '$name' did not start; its log:" >&2
    cat "$log" >&2
    exit 1
fi
"$@"
