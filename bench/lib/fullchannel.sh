# bench/lib/fullchannel.sh - sourced after common.sh: start_full_channel starts build/ark-sim and
# writes $tmp/vidgate.json with one Ark channel on it that takes one task at a time and keeps it
# queued upstream for an hour, so that every other live task stays queued at vidgated (no render,
# no upstream work): what B2 and B7 need. Start vidgated with ARK_KEY=sim-key and --config.
start_full_channel() {
    [ -x "$BUILD/ark-sim" ] || die "no $BUILD/ark-sim"
    SIM_PORT=$(free_port)
    "$BUILD/ark-sim" --listen "127.0.0.1:$SIM_PORT" --data "$tmp/sim" --key sim-key --video tiny \
        --queue-ms 3600000 --run-ms 1000 --threads 1 >"$tmp/sim.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$SIM_PORT/sim/stats" >/dev/null && break; sleep 0.1; done
    cat >"$tmp/vidgate.json" <<CONF
{"channels": [{"name": "ark-full", "type": "ark", "base_url": "http://127.0.0.1:$SIM_PORT/api/v3",
  "api_key_env": "ARK_KEY", "max_active": 1, "timeout_ms": 5000,
  "models": {"doubao-seedance-2-0-fast": "doubao-seedance-2-0-fast-260128",
             "doubao-seedance-2-0": "doubao-seedance-2-0-260128"}}]}
CONF
}
# fill_channel SECRET: submits the task that takes the channel's one slot and waits until the
# simulator has it.
fill_channel() {
    vg submit "$1" '{"model":"doubao-seedance-2-0-fast","prompt":"slot","seconds":"4","metadata":{"resolution":"480p"}}' >/dev/null
    for _ in $(seq 100); do
        [ "$(curl -fsS "http://127.0.0.1:$SIM_PORT/sim/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks"])')" -ge 1 ] && return 0
        sleep 0.1
    done
    die "the channel's slot was not taken"
}
