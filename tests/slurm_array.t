#!/usr/bin/env bash
# examples/slurm/ on a real Slurm (SPEC section 7): starts a one-node cluster
# on this machine (munged, slurmctld, slurmd from Debian's munge and
# slurm-wlm, configured here in a temporary directory, loopback only, private
# ports and munge socket), submits a 4-shard llp-classify job through
# `sbatch --array=0-3 --wait` with run-array.sbatch, merges with merge.sbatch
# (--dependency=afterok), and compares the merged store and output with a
# single-process run. Also runs the two scripts by hand for their checks.
# If the cluster cannot start the test fails, naming what went wrong; it
# never skips. Everything it started is stopped by the EXIT trap.
. "${0%/*}/lib.sh"
EX="$ROOT/examples/slurm"
export PATH="$BIN:$PATH"

# ---- the cluster -----------------------------------------------------------

C="$TMP/cluster"
DAEMON_PIDS=""
stop_cluster() {
    if [ -n "$DAEMON_PIDS" ]; then
        # Jobs first (their slurmstepd outlive slurmd), then the daemons.
        scancel --quiet --user="$(id -un)" > /dev/null 2>&1
        for pid in $DAEMON_PIDS; do kill "$pid" 2> /dev/null; done
        for _ in $(seq 1 50); do
            alive=0
            for pid in $DAEMON_PIDS; do kill -0 "$pid" 2> /dev/null && alive=1; done
            [ "$alive" = 0 ] && break
            sleep 0.1
        done
        for pid in $DAEMON_PIDS; do kill -KILL "$pid" 2> /dev/null; done
        DAEMON_PIDS=""
    fi
    rm -rf "$TMP"
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A failure to bring the cluster up ends the test as a failure, with the
# daemons' logs, so a broken CI machine shows why.
cluster_failed() {
    ok 1 "$1"
    for f in "$C"/log/*; do
        [ -s "$f" ] || continue
        diag "---- ${f##*/}"
        tail -n 15 "$f" | while IFS= read -r line; do diag "$line"; done
    done
    done_testing
    exit 1
}

missing=""
for cmd in munged slurmctld slurmd sbatch sinfo squeue scancel; do
    command -v "$cmd" > /dev/null || missing="$missing $cmd"
done
[ -z "$missing" ] ||
    cluster_failed "Slurm and munge are installed (missing:$missing; apt-get install slurm-wlm munge)"
ok 0 "munged, slurmctld, slurmd, sbatch, sinfo found"

# munged insists that the socket's directory and its parents be searchable
# by everyone and the key be readable by its owner only.
chmod 755 "$TMP"
mkdir -p "$C/key" "$C/run" "$C/log" "$C/state" "$C/spool" "$TMP/jobs"
chmod 700 "$C/key"; chmod 755 "$C" "$C/run"
if command -v mungekey > /dev/null; then
    mungekey --create --keyfile="$C/key/munge.key" > "$C/log/mungekey.log" 2>&1
else
    dd if=/dev/urandom of="$C/key/munge.key" bs=1024 count=1 2> "$C/log/mungekey.log"
fi
chmod 600 "$C/key/munge.key"
[ -s "$C/key/munge.key" ] || cluster_failed "a munge key is generated"

# Two free TCP ports on loopback, from a per-process base so that two test
# runs on one machine do not collide.
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
free_port() {
    local p=$1
    while ! port_free "$p" || [ "$p" = "${2:-}" ]; do p=$((p + 1)); done
    echo "$p"
}
CTLD_PORT=$(free_port $((20000 + $$ % 20000)))
SLURMD_PORT=$(free_port $((CTLD_PORT + 1)) "$CTLD_PORT")

CPUS=$(nproc); [ "$CPUS" -gt 2 ] && CPUS=2
MEM_MB=$(awk '/^MemTotal:/ { m = int($2 / 1024 / 2); print (m > 1000 ? 1000 : m) }' /proc/meminfo)
USER_NAME=$(id -un)
cat > "$C/slurm.conf" <<EOF
# One-node test cluster of tests/slurm_array.t; everything under $C.
ClusterName=llptest
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=$USER_NAME
SlurmdUser=$USER_NAME
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$C/run/munge.sock
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/run/slurmctld.pid
SlurmdPidFile=$C/run/slurmd.pid
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$C/slurm.conf"

munged --foreground --key-file="$C/key/munge.key" --socket="$C/run/munge.sock" \
       --pid-file="$C/run/munged.pid" --log-file="$C/log/munged.log" \
       --seed-file="$C/key/munged.seed" > "$C/log/munged.out" 2>&1 &
DAEMON_PIDS="$DAEMON_PIDS $!"
for _ in $(seq 1 50); do [ -S "$C/run/munge.sock" ] && break; sleep 0.1; done
[ -S "$C/run/munge.sock" ] || cluster_failed "munged starts with its socket in the test directory"
ok 0 "munged runs on a private socket"

slurmctld -D -c -f "$C/slurm.conf" > "$C/log/slurmctld.out" 2>&1 &
DAEMON_PIDS="$DAEMON_PIDS $!"
slurmd -D -N localhost -f "$C/slurm.conf" > "$C/log/slurmd.out" 2>&1 &
DAEMON_PIDS="$DAEMON_PIDS $!"

state=""
for _ in $(seq 1 60); do
    state=$(sinfo -h -n localhost -o %t 2> /dev/null)
    [ "$state" = idle ] && break
    sleep 0.5
done
[ "$state" = idle ] || cluster_failed "the node is idle within 30 s (sinfo says '${state:-nothing}')"
ok 0 "slurmctld and slurmd up; node localhost idle (ports $CTLD_PORT, $SLURMD_PORT)"

# ---- the job -----------------------------------------------------------------

M="$TMP/tiny.gguf"
llp-mkmodel -q "$M"; ok $? "a random model is written"
IN="$TMP/reviews.csv"
awk 'BEGIN { print "id,review"
             split("great,awful,fine,slow,cheap,broken,lovely,late", w, ",")
             for (i = 1; i <= 200; i++)
                 printf "rev%d,\"the product is %s, says customer %d\"\n", i, w[i % 8 + 1], i }' > "$IN"
is "$(wc -l < "$IN")" 201 "200 CSV reviews written"

# One row per forward pass (--batch-rows 1): floats then do not depend on
# which rows share a batch, so the sharded and single runs agree byte for byte.
CLASSIFY=(llp-classify -m "$M" -q --labels positive,negative,neutral --batch-rows 1 --column review "$IN")

OUT="$TMP/out"
jid=$(cd "$TMP/jobs" && LLP_OUT="$OUT" LLP_SCRATCH="$TMP/scratch" \
      timeout 90 sbatch --parsable --wait --array=0-3 --cpus-per-task=1 \
          --output="$TMP/jobs/shard-%a.log" "$EX/run-array.sbatch" "${CLASSIFY[@]}")
rc=$?
jid=${jid%%;*}
if [ "$rc" -ne 0 ]; then
    for f in "$TMP"/jobs/*.log; do [ -f "$f" ] && diag "---- ${f##*/}" && diag "$(tail -n 5 "$f")"; done
fi
is "$rc" 0 "sbatch --array=0-3 --wait run-array.sbatch llp-classify: every task succeeds"
n_ok=0
for k in 0 1 2 3; do [ -s "$OUT/shard-$k-of-4.db" ] && [ -f "$OUT/shard-$k-of-4.out" ] && n_ok=$((n_ok + 1)); done
is "$n_ok" 4 "each of the 4 tasks left shard-K-of-4.db and .out"
is "$(ls -A "$TMP/scratch" 2> /dev/null | wc -l)" 0 "LLP_SCRATCH copies were copied back and removed"
grep -q "shard 2/4 on" "$TMP/jobs/shard-2.log"; ok $? "task 2 ran shard 2/4 (its log says so)"

LLP_OUT="$OUT" timeout 60 sbatch --wait --quiet --dependency="afterok:$jid" \
    --output="$TMP/jobs/merge.log" --chdir="$TMP/jobs" "$EX/merge.sbatch"
rc=$?
[ "$rc" -eq 0 ] || diag "$(cat "$TMP/jobs/merge.log" 2> /dev/null)"
is "$rc" 0 "sbatch --dependency=afterok:$jid merge.sbatch succeeds"

# ---- the same job in one process ---------------------------------------------

"${CLASSIFY[@]}" --db "$TMP/single.db" > "$TMP/single.csv"; ok $? "single-process run"
items_of() {
    sqlite3 "$1" "SELECT task, record_id, model_fp, params_hash, input_hash,
                         coalesce(output, ''), coalesce(error, '') FROM items" | LC_ALL=C sort
}
is "$(sqlite3 "$OUT/merged.db" 'SELECT count(*) || " " || sum(n_items) FROM jobs')" "4 200" \
   "merged store: 4 jobs, 200 items counted"
items_of "$TMP/single.db" > "$TMP/single.items"
items_of "$OUT/merged.db" | cmp -s - "$TMP/single.items"
ok $? "merged store: the same items and outputs as the single-process run"
is "$(head -1 "$OUT/merged.out")" "$(head -1 "$TMP/single.csv")" "merged CSV: one header, the single run's"
is "$(grep -c '^id,review' "$OUT/merged.out")" 1 "merged CSV: the header appears once"
cmp -s <(tail -n +2 "$OUT/merged.out" | LC_ALL=C sort) <(tail -n +2 "$TMP/single.csv" | LC_ALL=C sort)
ok $? "merged CSV: the same 200 rows as the single-process run"

# Again, by hand this time (sbatch --wait polls every 10 s or so, and the
# scheduler adds nothing to this check).
sqlite3 "$OUT/merged.db" .dump > "$TMP/dump1"
LLP_OUT="$OUT" bash "$EX/merge.sbatch" 2> /dev/null
is "$?" 0 "merge.sbatch a second time succeeds"
sqlite3 "$OUT/merged.db" .dump | cmp -s - "$TMP/dump1"; ok $? "the second merge changes nothing"

# ---- a pipeline by shard ---------------------------------------------------------
# The same classification as an llp-run pipeline writing a CSV file per shard
# (its path holds ${LLP_SHARD}, which run-array.sbatch sets).
PIPE="$TMP/sentiment.yaml"
cat > "$PIPE" <<EOF
version: 1
name: slurm-sentiment
model: $M
input:
  csv: $IN
  column: review
  id_column: id
steps:
  - classify:
      labels: [positive, negative, neutral]
      batch_rows: 1
output:
  csv: $TMP/pfiles/sentiment-\${LLP_SHARD:-all}.csv
EOF
POUT="$TMP/pout"
pjid=$(cd "$TMP/jobs" && LLP_OUT="$POUT" timeout 90 sbatch --parsable --wait --array=0-3 --cpus-per-task=1 \
       --output="$TMP/jobs/pipe-%a.log" "$EX/run-array.sbatch" llp-run -q "$PIPE")
rc=$?
[ "$rc" -eq 0 ] || diag "$(tail -n 5 "$TMP"/jobs/pipe-*.log 2> /dev/null)"
is "$rc" 0 "sbatch --array=0-3 --wait run-array.sbatch llp-run PIPELINE: every task succeeds"
LLP_OUT="$POUT" timeout 60 sbatch --wait --quiet --dependency="afterok:${pjid%%;*}" \
    --output="$TMP/jobs/pmerge.log" --chdir="$TMP/jobs" "$EX/merge.sbatch"
is "$?" 0 "merge.sbatch after the pipeline array succeeds"
is "$(ls "$TMP/pfiles" | tr '\n' ' ')" \
   "sentiment-shard-0-of-4.csv sentiment-shard-1-of-4.csv sentiment-shard-2-of-4.csv sentiment-shard-3-of-4.csv " \
   "each pipeline shard wrote its own CSV file"
LLP_SHARD=all llp-run -q --db "$TMP/psingle.db" "$PIPE"; ok $? "the pipeline in a single process"
cmp -s <(for k in 0 1 2 3; do tail -n +2 "$TMP/pfiles/sentiment-shard-$k-of-4.csv"; done | LC_ALL=C sort) \
       <(tail -n +2 "$TMP/pfiles/sentiment-all.csv" | LC_ALL=C sort)
ok $? "pipeline: the 4 shard files hold the single run's 200 rows"
cmp -s <(tail -n +2 "$TMP/pfiles/sentiment-all.csv" | LC_ALL=C sort) <(tail -n +2 "$TMP/single.csv" | LC_ALL=C sort)
ok $? "pipeline and llp-classify give the same rows"
items_of "$POUT/merged.db" | cmp -s - <(items_of "$TMP/psingle.db")
ok $? "pipeline: merged store has the single run's items and outputs"
is "$(sqlite3 "$POUT/merged.db" "SELECT count(*) FROM jobs WHERE tool LIKE 'pipeline:%';
                                 SELECT count(*) FROM jobs j JOIN jobs p ON p.id = j.parent_job
                                 WHERE p.tool LIKE 'pipeline:%' AND j.tool = 'classify'" | tr '\n' ' ')" "4 4 " \
   "pipeline: 4 pipeline jobs merged, each with its classify step still linked to it"

# ---- the scripts by hand (no scheduler): what they refuse ---------------------

HAND="$TMP/hand"
for k in 0 1 2 3; do
    SLURM_ARRAY_TASK_ID=$k SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=3 \
        LLP_OUT="$HAND" bash "$EX/run-array.sbatch" "${CLASSIFY[@]}" 2> /dev/null || echo "task $k failed"
done > "$TMP/hand.err"
is "$(cat "$TMP/hand.err")" "" "run-array.sbatch by hand, 4 tasks, store in LLP_OUT directly"
LLP_OUT="$HAND" bash "$EX/merge.sbatch" 2> /dev/null; ok $? "merge.sbatch by hand"
cmp -s "$HAND/merged.out" "$OUT/merged.out"; ok $? "by hand and under Slurm: the same merged output"

err=$(SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=2 \
      LLP_OUT="$TMP/bad" bash "$EX/run-array.sbatch" "${CLASSIFY[@]}" 2>&1)
rc=$?
[ "$rc" -eq 1 ] && [[ $err == *"is not 0-1"* ]]
ok $? "run-array.sbatch refuses an array that is not 0..N-1 (--array=1-2)"
err=$(LLP_SHARDS=4 SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=1 SLURM_ARRAY_TASK_MIN=2 SLURM_ARRAY_TASK_MAX=2 \
      LLP_OUT="$TMP/redo" bash "$EX/run-array.sbatch" "${CLASSIFY[@]}" 2>&1)
[ $? -eq 0 ] && [ -f "$TMP/redo/shard-2-of-4.out" ]
ok $? "LLP_SHARDS=4 with --array=2 reruns shard 2 of 4 alone"
cmp -s "$TMP/redo/shard-2-of-4.out" "$OUT/shard-2-of-4.out"; ok $? "the rerun shard has the same records"
err=$(LLP_OUT="$TMP/redo" bash "$EX/merge.sbatch" 2>&1)
rc=$?
[ "$rc" -eq 1 ] && [[ $err == *"shards 0 1 3 of 4"* ]]
ok $? "merge.sbatch refuses to merge with shards missing, and names them"
err=$(bash "$EX/run-array.sbatch" llp-classify 2>&1)
[ $? -eq 1 ] && [[ $err == *"not an array task"* ]]
ok $? "run-array.sbatch outside an array says so"

done_testing
