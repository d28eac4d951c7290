#!/usr/bin/env python3
"""0.1% churn for the two-hour-cycle benchmarks (benches/cycle.sh, benches/compare.sh).

    benches/churn.py ZONE DELEGATIONS [--bump-serial]

Writes ZONE.changed: n/2000 delegations removed (with their in-bailiwick glue), n/2000
new ones added, and the NS of n/2000 others changed. --bump-serial adds 1 to the SOA
serial, as a registry's next zone dump would (OpenDNSSEC's <Serial>keep</Serial> needs
it; zonesign moves the serial itself).
"""
import random
import sys

path, n = sys.argv[1], int(sys.argv[2])
bump = "--bump-serial" in sys.argv[3:]
random.seed(2)
lines = open(path).read().split("\n")


def owner(line):
    return line.split()[0] if line and line[0] not in "$; \t(" else None


owners = sorted({l.split()[0] for l in lines
                 if owner(l) not in (None, "@") and "NS" in l.split()[1:4]})
k = max(1, n // 2000)
drop = set(random.sample(owners, k))
change = set(random.sample([o for o in owners if o not in drop], k))
out = []
for l in lines:
    o = owner(l)
    # A dropped delegation takes its in-bailiwick glue with it.
    if o is not None and (o in drop or (o.count(".") and o.split(".", 1)[1] in drop)):
        continue
    if o in change and "NS" in l.split()[1:4]:
        l = "\t".join(l.split()[:-1] + ["ns9.changed.example.net."])
        change.discard(o)
    if bump and o == "@" and "SOA" in l.split():
        f = l.split()
        i = f.index("SOA") + 3
        i += f[i] == "("
        f[i] = str(int(f[i]) + 1)
        l = "\t".join(f)
    out.append(l)
out += [f"bench-new-{i}\tIN\tNS\tns1.example.net." for i in range(k)]
open(path + ".changed", "w").write("\n".join(out) + "\n")
