# bench/lib/seeded.sh - sourced after common.sh: make_seeded DIR TOTAL KEYS MINE prepares a data
# directory with TOTAL tasks (KEYS keys; one live key with a secret owns MINE of them, spread among
# the others). A real server makes the schema, the key and one completed 480p task (the template);
# then it is stopped and bench/lib/seed.py copies the template (SEED_LEDGER=1: the ledger rows too).
# Sets SEED_KEY (the secret), SEED_KEY_ID, SEED_TASK (the template) and SEED_IDS (a file with the
# ids of the key's tasks). make_template DIR, copy_template DIR DIR2 and seed_into DIR … are its steps.
make_template() {
    start_vidgated template "$1"
    read -r SEED_KEY_ID SEED_KEY < <(vg key --balance 1000000)
    SEED_TASK=$(vg submit "$SEED_KEY" '{"model":"doubao-seedance-2-0-fast","prompt":"bench","seconds":"4","metadata":{"resolution":"480p"}}')
    [ "$(vg wait "$SEED_KEY" "$SEED_TASK" --timeout 120)" = completed ] || die "the template task did not complete"
    stop_pid "$VG_PID"
}
# seed_into DIR TOTAL KEYS MINE IDS_FILE
seed_into() {
    local ledger=()
    [ "${SEED_LEDGER:-0}" = 1 ] && ledger=(--ledger)
    python3 "$LIB/seed.py" "$1/vidgate.db" --template "$SEED_TASK" --total "$2" --keys "$3" \
        --mine-key "$SEED_KEY_ID" --mine "$4" --out "$5" "${ledger[@]}"
}
make_seeded() {
    make_template "$1"
    SEED_IDS=$tmp/ids-$(basename "$1")
    seed_into "$1" "$2" "$3" "$4" "$SEED_IDS"
}
