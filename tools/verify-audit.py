#!/usr/bin/env python3
"""Independent check of a shellgate audit chain (hashes, links, gaps, witness heads).
usage: python3 verify-audit.py DB [WITNESS.jsonl]   exit 0 = chain holds, 1 = first failure printed"""
import hashlib, json, sqlite3, sys

db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
prev, n, hashes = "0" * 64, 0, {}
for seq, ts, typ, body, prev_hash, h in db.execute(
        "SELECT seq, ts, type, body, prev_hash, hash FROM audit_events ORDER BY seq"):
    n += 1
    if seq != n:
        sys.exit(f"FAIL seq {n}: missing (the chain jumps to {seq})")
    if prev_hash != prev:
        sys.exit(f"FAIL seq {seq}: prev_hash does not link to seq {seq - 1}")
    if hashlib.sha256((prev_hash + "\n" + body).encode("utf-8")).hexdigest() != h:
        sys.exit(f"FAIL seq {seq}: hash does not match prev_hash and body")
    b = json.loads(body)
    if (b.get("seq"), b.get("ts"), b.get("type")) != (seq, ts, typ):
        sys.exit(f"FAIL seq {seq}: body seq/ts/type differ from the row")
    prev = hashes[seq] = h
for line in (open(sys.argv[2]) if len(sys.argv) > 2 else []):
    if not line.strip():
        continue
    w = json.loads(line)
    if hashes.get(w["seq"]) != w["hash"]:
        sys.exit(f"FAIL seq {w['seq']}: witnessed head not in the chain (tail deleted or rewritten)")
print(f"OK {n} events")
