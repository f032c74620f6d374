"""bench/lib/seed.py - fills a stopped vidgated's database with many tasks, fast (one transaction,
one INSERT … SELECT over a recursive CTE per table: about a minute for 1,000,000 tasks).

  seed.py DB --template TASK --total N --keys K --mine-key KEY_ID --mine M --out FILE [--ledger]

Every new task is a copy of TEMPLATE (a real task the server made, so the rows match whatever the
schema is today) with its own time-ordered id (the server's format: "task_" + 26 Crockford base32
digits, 48 bits of milliseconds first), its creation spread evenly over the 6 days before the
template (inside the default 7-day retention, so no sweep starts), and the template's other time
columns shifted by the same amount. With --ledger the ledger rows of the template (hold, capture,
release) are copied per task and every key's balance and held amount is recomputed from the ledger,
so that `vidgated check` stays clean (3 M more rows: about twice the time); without it the ledger
and balances are left as they were. K − 1 filler keys are made (copies of MINE_KEY's row that no secret
opens); MINE_KEY owns M tasks spread evenly among the others (the template included), the fillers
the rest, round-robin. The ids of MINE_KEY's tasks are written to FILE, one per line.
"""
import argparse
import sqlite3
import sys
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TIME_COLUMNS = ("created_at", "updated_at", "completed_at", "expires_at")


def digits(expr, count, first_shift):
    """SQL for `count` base32 digits of the integer expression, most significant first."""
    return " || ".join("substr('%s', ((%s) >> %d & 31) + 1, 1)" % (CROCKFORD, expr, first_shift - 5 * i)
                       for i in range(count))


def columns(db, table):
    return [r[1] for r in db.execute("PRAGMA table_info(%s)" % table)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--template", required=True)
    ap.add_argument("--total", type=int, required=True)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--mine-key", required=True)
    ap.add_argument("--mine", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--ledger", action="store_true", help="copy the template's ledger rows too")
    a = ap.parse_args()
    t0 = time.time()
    last = [t0]

    def phase(what):
        now = time.time()
        if a.verbose:
            print("  %-24s %6.1f s" % (what, now - last[0]), file=sys.stderr)
        last[0] = now
    db = sqlite3.connect(a.db, isolation_level=None, timeout=60)
    # The server is stopped: a rollback journal (not WAL) and no fsync make the bulk load cheap;
    # WAL is switched back on at the end (the server would do it too).
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    db.execute("PRAGMA temp_store=MEMORY")
    tmpl = db.execute("SELECT created_at FROM tasks WHERE id = ?", (a.template,)).fetchone()
    if not tmpl:
        sys.exit("seed: no template task %s" % a.template)
    new = a.total - db.execute("SELECT count(*) FROM tasks").fetchone()[0]
    if new <= 0:
        sys.exit("seed: the database already holds %d tasks or more" % a.total)
    span_ms = 6 * 86400 * 1000
    gap_ms = max(1, span_ms // new)
    base_ms = tmpl[0] * 1000 - new * gap_ms
    db.execute("BEGIN")
    # Secondary indexes of the two big tables are dropped and made again after the load: one sort
    # per index instead of a million scattered B-tree inserts.
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                         "AND tbl_name IN ('tasks', 'ledger')").fetchall()
    for name, _ in indexes:
        db.execute('DROP INDEX "%s"' % name)
    # Filler keys: copies of the mine key's row with their own id, hash and name.
    kcols = columns(db, "keys")
    kexpr = {"id": "'key_' || %s" % digits("(:now_ms + n)", 10, 45) + " || " + digits("n", 16, 75),
             "hash": "k.hash || '-filler-' || n", "name": "'bench-filler-' || n",
             "balance_micro": "0", "held_micro": "0"}
    db.execute("CREATE TEMP TABLE fk(idx INTEGER PRIMARY KEY, id TEXT NOT NULL)")
    db.execute(
        "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < :k - 2) "
        "INSERT INTO keys (%s) SELECT %s FROM seq, keys AS k WHERE k.id = :mine AND :k > 1"
        % (", ".join(kcols), ", ".join(kexpr.get(c, "k." + c) for c in kcols)),
        {"k": a.keys, "mine": a.mine_key, "now_ms": int(time.time() * 1000)})
    db.execute("INSERT INTO fk (idx, id) SELECT row_number() OVER (ORDER BY id) - 1, id FROM keys "
               "WHERE name LIKE 'bench-filler-%'")
    nfk = db.execute("SELECT count(*) FROM fk").fetchone()[0]
    # Tasks.
    # The tasks there before (the template): the ledger below copies rows for the new ones only.
    db.execute("CREATE TEMP TABLE old_tasks AS SELECT id FROM tasks")
    tcols = columns(db, "tasks")
    ms = "(:base_ms + n * :gap_ms)"
    texpr = {"id": "'task_' || " + digits(ms, 10, 45) + " || " + digits("r", 12, 59) + " || "
                   + digits("n", 4, 15),
             "key_id": "CASE WHEN n * :m1 / :new != (n + 1) * :m1 / :new OR %d = 0 THEN :mine "
                       "ELSE (SELECT id FROM fk WHERE idx = n %% %d) END" % (nfk, max(1, nfk))}
    for c in TIME_COLUMNS:
        if c in tcols:
            texpr[c] = "CASE WHEN t.%s = 0 THEN 0 ELSE t.%s + %s / 1000 - t.created_at END" % (c, c, ms)
    db.execute(
        "WITH RECURSIVE seq(n, r) AS (SELECT 0, random() UNION ALL "
        "  SELECT n + 1, random() FROM seq WHERE n < :new - 1) "
        "INSERT INTO tasks (%s) SELECT %s FROM seq, tasks AS t WHERE t.id = :template"
        % (", ".join(tcols), ", ".join(texpr.get(c, "t." + c) for c in tcols)),
        {"new": new, "base_ms": base_ms, "gap_ms": gap_ms, "m1": min(new, max(0, a.mine - 1)), "mine": a.mine_key,
         "template": a.template})
    phase("filler keys and tasks")
    # Ledger rows, shifted with their task (optional: the status path never reads them).
    if a.ledger:
        lcols = [c for c in columns(db, "ledger") if c != "id"]
        lexpr = {"key_id": "t.key_id", "task_id": "t.id",
                 "created_at": "l.created_at + t.created_at - tm.created_at"}
        db.execute(
            "INSERT INTO ledger (%s) SELECT %s FROM tasks AS t, ledger AS l, tasks AS tm "
            "WHERE t.id NOT IN (SELECT id FROM temp.old_tasks) AND l.task_id = :template "
            "AND tm.id = :template ORDER BY t.id"
            % (", ".join(lcols), ", ".join(lexpr.get(c, "l." + c) for c in lcols)),
            {"template": a.template})
    phase("tasks and ledger rows")
    for _, sql in indexes:
        db.execute(sql)
    phase("indexes")
    if a.ledger:
        db.execute(
            "CREATE TEMP TABLE sums AS SELECT key_id, "
            "sum(CASE kind WHEN 'credit' THEN amount_micro WHEN 'debit' THEN -amount_micro "
            "    WHEN 'capture' THEN -amount_micro ELSE 0 END) AS b, "
            "sum(CASE kind WHEN 'hold' THEN amount_micro WHEN 'release' THEN -amount_micro ELSE 0 END) AS h "
            "FROM ledger GROUP BY key_id")
        db.execute("UPDATE keys SET balance_micro = sums.b, held_micro = sums.h FROM sums "
                   "WHERE sums.key_id = keys.id")
    phase("balances")
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    ids = [r[0] for r in db.execute("SELECT id FROM tasks WHERE key_id = ? ORDER BY id", (a.mine_key,))]
    with open(a.out, "w") as f:
        f.write("\n".join(ids) + "\n")
    total = db.execute("SELECT count(*) FROM tasks").fetchone()[0]
    keys = db.execute("SELECT count(DISTINCT key_id) FROM tasks").fetchone()[0]
    db.close()
    print("seeded %d tasks (%d keys with tasks, %d of them %s's) in %.1f s"
          % (total, keys, len(ids), a.mine_key, time.time() - t0))


if __name__ == "__main__":
    main()
