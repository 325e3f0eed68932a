#!/usr/bin/env python3
"""Fleet scale on one machine: N lightweight clients (signfed-load: precomputed
valid sign packets, no training) behind zero, one or two tiers of
signfed-relay, on tcp loopback, CURVE on by default.

  fleet_scale.py --clients 100000 --tiers 12,2 --rounds 20      two tiers: 12 leaf relays under 2 mid relays
  fleet_scale.py --clients 10000 --rounds 20                     flat: every client on the coordinator
  fleet_scale.py --clients 100000 --tiers 12,2 --relay-db        leaf rows in the relays' own logs, totals up

Measures, per process (from wait4's rusage and /proc sampled every 0.2 s):
CPU seconds per round over the rounds (join phase excluded), peak RSS; per
round: wall time, counted updates (from the SQLite log); per relay: uplink
bytes per round (its row in the log) against the sum of its children's
packets. Prints a table and writes --json.

Limits here: a process may hold at most `ulimit -n` descriptors (20,000 on this
machine, not raisable without CAP_SYS_RESOURCE); a signfed-load connection
costs two (TCP + mailbox eventfd), a relay's or the coordinator's child one.
So load processes carry at most --per-load clients each (default 9,000) and a
relay or the coordinator at most ~19,000 children.
"""
import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def clock_ticks():
    return os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """utime + stime of a live process in seconds, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / clock_ticks()
    except (OSError, IndexError, ValueError):
        return None


class Proc:
    def __init__(self, role, cmd, log_dir, children=0):
        self.role, self.cmd, self.children = role, cmd, children
        self.log = open(os.path.join(log_dir, f"{role}.log"), "w")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.samples = []  # (t, cpu_s)
        self.cpu = self.maxrss_kb = None
        self.rc = None

    def sample(self, t):
        c = proc_cpu(self.p.pid)
        if c is not None:
            self.samples.append((t, c))

    def cpu_at(self, t):
        """CPU seconds at wall time t, interpolated from the samples."""
        s = self.samples
        if not s or t <= s[0][0]:
            return s[0][1] if s else 0.0
        for (t0, c0), (t1, c1) in zip(s, s[1:]):
            if t0 <= t <= t1:
                return c0 + (c1 - c0) * (t - t0) / max(t1 - t0, 1e-9)
        return self.cpu if self.cpu is not None else s[-1][1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--tiers", default="", help="LEAF[,MID]: relays per tier, bottom first (empty: flat)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--model", default="mlp:784-8-10", help="model spec (packet size: 1 bit per parameter)")
    ap.add_argument("--per-load", type=int, default=9000, help="clients per signfed-load process")
    ap.add_argument("--round-timeout", type=int, default=120000, help="coordinator round deadline, ms")
    ap.add_argument("--join-timeout", type=int, default=900000, help="ms to wait for every client to join")
    ap.add_argument("--insecure", action="store_true", help="plaintext instead of CURVE")
    ap.add_argument("--relay-db", action="store_true",
                    help="each relay logs its leaves' rows in its own SQLite file (signfed-relay --db) and sends "
                         "only their totals up; default: every leaf's row goes up to the coordinator's log")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--port", type=int, default=27000, help="first TCP port")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    a = ap.parse_args()

    b = a.build
    coord_bin, relay_bin = f"{b}/coordinator/signfed-coordinator", f"{b}/relay/signfed-relay"
    load_bin, keygen_bin = f"{b}/tools/load/signfed-load", f"{b}/tools/keygen/signfed-keygen"
    for x in (coord_bin, load_bin) + ((relay_bin,) if a.tiers else ()) + (() if a.insecure else (keygen_bin,)):
        if not os.access(x, os.X_OK):
            sys.exit(f"fleet_scale: {x} is missing: cmake --build {b} --target signfed-coordinator signfed-relay "
                     "signfed-load signfed-keygen")
    tiers = [int(x) for x in a.tiers.split(",") if x] if a.tiers else []
    if len(tiers) > 2:
        sys.exit("fleet_scale: --tiers takes at most two tiers (LEAF,MID)")
    tmp = tempfile.mkdtemp(prefix="fleet_scale.")
    db = os.path.join(tmp, "run.sqlite")
    port = a.port

    def key(name):  # a CURVE key pair: NAME.key (secret), NAME.pub
        subprocess.run([keygen_bin, "--dir", tmp, name], check=True, stdout=subprocess.DEVNULL)
        return os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".pub")

    def allow_file(name):
        path = os.path.join(tmp, name + ".allow")
        open(path, "w").close()
        return path

    def pub_of(pub_path):  # the Z85 key: the first line that is not a comment
        with open(pub_path) as f:
            return next(line.strip() for line in f if line.strip() and not line.startswith("#"))

    procs = []
    # The coordinator.
    coord_ep = f"tcp://127.0.0.1:{port}"
    cmd = [coord_bin, "--endpoint", f"tcp://127.0.0.1:{port}", "--db", db, "--clients", str(a.clients),
           "--rounds", str(a.rounds), "--model", a.model, "--eval-every", "0", "--quiet",
           "--round-timeout", str(a.round_timeout), "--join-timeout", str(a.join_timeout),
           "--checkpoint-every", "1000", "--no-standardise",
           "--max-clients", str(a.clients + sum(tiers) + 16)]
    if a.insecure:
        cmd.append("--insecure")
    else:
        ckey, cpub = key("coordinator")
        callow = allow_file("coordinator")
        cmd += ["--key", ckey, "--allow", callow]
    procs.append(Proc("coordinator", cmd, tmp, children=tiers[-1] if tiers else a.clients))
    port += 1
    time.sleep(0.5)

    # Relays, top tier first: each (endpoint, public key file, allowlist) is a parent for the tier below.
    parents = [(coord_ep, None if a.insecure else cpub, None if a.insecure else callow)]
    leaves_per_relay = []
    for t, count in enumerate(reversed(tiers)):
        level = len(tiers) - 1 - t  # 0: leaf
        below = a.clients if level == 0 else tiers[level - 1]
        tier_parents = []
        for r in range(count):
            parent_ep, parent_pub, parent_allow = parents[r % len(parents)]
            share = below // count + (1 if r < below % count else 0)  # children of this relay
            leaves = a.clients // count + (1 if r < a.clients % count else 0) if level == 0 else None
            name = f"relay{level}-{r}"
            ep = f"tcp://127.0.0.1:{port}"
            # --clients: the leaf clients below this relay (what it waits for before round 0).
            cmd = [relay_bin, "--parent", parent_ep, "--bind", ep, "--name", name, "--clients",
                   str(leaves if level == 0 else a.clients // count + (1 if r < a.clients % count else 0)),
                   "--max-clients", str(a.clients + sum(tiers) + 16), "--quiet"]
            if a.relay_db:
                cmd += ["--db", os.path.join(tmp, f"{name}.sqlite")]
            if a.insecure:
                cmd.append("--insecure")
            else:
                rkey, rpub = key(name)
                rallow = allow_file(name)
                with open(parent_allow, "a") as f:
                    f.write(f"{pub_of(rpub)} {name}\n")
                cmd += ["--key", rkey, "--parent-key", parent_pub, "--allow", rallow]
            procs.append(Proc(name, cmd, tmp, children=leaves if level == 0 else share))
            tier_parents.append((ep, None if a.insecure else rpub, None if a.insecure else rallow))
            if level == 0:
                leaves_per_relay.append(leaves)
            port += 1
        parents = tier_parents
    # The clients: signfed-load processes of at most --per-load clients, each on one parent.
    targets = []
    for r, (ep, pub, allow) in enumerate(parents):
        n = leaves_per_relay[r] if tiers else a.clients
        while n > 0:
            k = min(n, a.per_load)
            targets.append((ep, pub, allow, k))
            n -= k
    time.sleep(0.5)
    for i, (ep, pub, allow, k) in enumerate(targets):
        cmd = [load_bin, "--connect", ep, "--clients", str(k), "--name-prefix", f"l{i}-", "--model", a.model,
               "--give-up-after", str(a.join_timeout // 1000 + 60)]
        cmd += ["--insecure"] if a.insecure else ["--server-key", pub, "--allowlist", allow]
        procs.append(Proc(f"load-{i}", cmd, tmp, children=k))

    print(f"fleet_scale: {a.clients} clients, tiers {tiers or 'flat'}, {len(targets)} load processes, "
          f"{a.rounds} rounds, model {a.model}, {'plaintext' if a.insecure else 'CURVE'}; logs in {tmp}",
          flush=True)
    coord = procs[0]
    start = time.time()

    def reap(p, flags):
        """Collects p's exit status and rusage if it has exited (wait4: CPU and peak RSS of the child itself)."""
        if p.rc is not None:
            return True
        pid, status, ru = os.wait4(p.p.pid, flags)
        if pid == 0:
            return False
        p.rc = os.waitstatus_to_exitcode(status)
        p.cpu = ru.ru_utime + ru.ru_stime
        p.maxrss_kb = ru.ru_maxrss
        p.p.returncode = p.rc  # so Popen does not wait for it again
        return True

    limit = a.join_timeout / 1000 + a.rounds * a.round_timeout / 1000 + 120
    while not reap(coord, os.WNOHANG):
        t = time.time()
        for p in procs:
            if p.rc is None:
                p.sample(t)
                reap(p, os.WNOHANG)
        time.sleep(0.2)
        if t - start > limit:
            print("fleet_scale: giving up (timeout)", file=sys.stderr)
            coord.p.terminate()
    deadline = time.time() + 30  # the rest end on the coordinator's Bye (relays, load) or are stopped
    for p in procs:
        while not reap(p, os.WNOHANG):
            if time.time() > deadline:
                p.p.terminate()
                reap(p, 0)
                break
            time.sleep(0.1)

    con = sqlite3.connect(db)
    rounds = con.execute("SELECT round, started_at, ended_at FROM rounds ORDER BY round").fetchall()
    # Leaf clients' counted updates: rounds.received counts the leaves behind a relay's tally.
    counted = con.execute("SELECT COALESCE(SUM(received), 0) FROM rounds").fetchone()[0]
    coord_rows = con.execute("SELECT COUNT(*) FROM updates").fetchone()[0]
    if not rounds:
        sys.exit(f"fleet_scale: no round was logged (coordinator exit {coord.rc}); see {tmp}")
    # Wall clock of the rounds: the log's unix times; CPU over the same span from the samples.
    t0, t1 = rounds[0][1], rounds[-1][2]
    walls = sorted(r[2] - r[1] for r in rounds)
    result = {"clients": a.clients, "tiers": tiers, "relay_db": a.relay_db, "coordinator_update_rows": coord_rows,
              "rounds": len(rounds), "model": a.model,
              "curve": not a.insecure, "counted_updates": counted, "expected_updates": a.clients * len(rounds),
              "median_round_wall_s": walls[len(walls) // 2], "coordinator_rc": coord.rc, "processes": []}
    print(f"{'process':<16}{'children':>9}{'CPU/round ms':>14}{'peak RSS MB':>13}{'exit':>6}")
    by_tier = {}
    for p in procs:
        per_round = (p.cpu_at(t1) - p.cpu_at(t0)) / len(rounds) * 1000
        tier = p.role.split("-")[0]
        by_tier.setdefault(tier, []).append((per_round, p.maxrss_kb / 1024))
        result["processes"].append({"role": p.role, "children": p.children, "cpu_ms_per_round": per_round,
                                    "peak_rss_mb": p.maxrss_kb / 1024, "exit": p.rc})
        if not p.role.startswith("load") or p.role == "load-0":
            print(f"{p.role:<16}{p.children:>9}{per_round:>14.1f}{p.maxrss_kb / 1024:>13.1f}{p.rc:>6}")
    for tier, rows in sorted(by_tier.items()):
        cpu = [r[0] for r in rows]
        rss = [r[1] for r in rows]
        print(f"tier {tier:<11} {len(rows):>3} processes: CPU/round {min(cpu):.1f}..{max(cpu):.1f} ms, "
              f"peak RSS {min(rss):.1f}..{max(rss):.1f} MB")
    print(f"rounds {len(rounds)}, median wall {result['median_round_wall_s'] * 1000:.0f} ms, counted updates "
          f"{counted} of {a.clients * len(rounds)}; {coord_rows} update rows in the coordinator's log")
    # Uplink per relay per round: its TallyUpdate against its children's update bytes
    # (the relay's row in the parent's log carries both: bytes and 'children bytes N' in detail).
    relays = con.execute(
        "SELECT c.name, AVG(u.bytes), AVG(CAST(substr(u.detail, instr(u.detail, 'bytes ') + 6) AS INTEGER)) "
        "FROM updates u JOIN clients c USING(run_id, client_id) WHERE c.platform = 'relay' AND u.status = 'counted' "
        "GROUP BY c.name ORDER BY c.name").fetchall()
    result["uplink"] = []
    for name, up, below in relays:
        result["uplink"].append({"relay": name, "tally_bytes": up, "children_bytes": below})
        print(f"uplink {name}: {up:.0f} B per round for {below:.0f} B of the packets of the clients below it "
              f"({up / below if below else 0:.4f})")
    for p in procs:  # a process that failed: the end of its log, before the temp dir goes
        if p.rc not in (0, None) and not p.role.startswith("load"):
            p.log.flush()
            with open(os.path.join(tmp, f"{p.role}.log")) as f:
                tail = f.read().splitlines()[-5:]
            print(f"{p.role} exited {p.rc}; its log ends:\n  " + "\n  ".join(tail), file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    if not a.keep:
        subprocess.run(["rm", "-rf", tmp])
    return 0 if counted == a.clients * len(rounds) and coord.rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
