#!/usr/bin/env python3
"""Independent reference for ramp's bucketing contract, version 1.

Reads the golden files given as arguments and checks every vector with a
from-scratch XXH64 written with Python integers, to show that the
documented algorithm (docs/bucketing.md) is reproducible outside Go:

  golden_v1.tsv               salt, key, position, bucket
  golden_experiments_v1.tsv   an experiment's assignment of each unit: the
                              layer bucket, whether the experiment's bucket
                              set (@sample) holds it, the arm bucket under
                              the experiment's salt and the arm its table
                              (@table) gives

Prints "N passed, 0 failed" per file or the mismatches, and exits non-zero
on any.
"""
import sys

M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def rnd(acc, lane):
    return (rotl((acc + lane * P2) & M64, 31) * P1) & M64


def merge(h, v):
    return (((h ^ rnd(0, v)) * P1) + P4) & M64


def xxh64(data, seed=0):
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while i + 32 <= n:
            for j in range(4):
                v[j] = rnd(v[j], int.from_bytes(data[i:i + 8], "little"))
                i += 8
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M64
        for x in v:
            h = merge(h, x)
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= rnd(0, int.from_bytes(data[i:i + 8], "little"))
        h = (rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i:i + 4], "little") * P1) & M64
        h = (rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M64
        h = (rotl(h, 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    h ^= h >> 32
    return h


def position(salt, key):
    return xxh64(salt.encode("utf-8") + b":" + key.encode("utf-8")) >> 32


def bucket(pos):
    return (pos * 10000) >> 32


def parse_ranges(text):
    """'0-1000,4000-4500' -> [(0, 1000), (4000, 4500)], half-open."""
    out = []
    for part in text.split(","):
        lo, hi = part.split("-")
        out.append((int(lo), int(hi)))
    return out


def parse_table(text):
    """'0-3400:off,3400-5900:handoff' -> [(0, 3400, 'off'), ...]."""
    out = []
    for part in text.split(","):
        span, arm = part.split(":")
        lo, hi = span.split("-")
        out.append((int(lo), int(hi), arm))
    return out


def assign(unit, layer_salt, sample, exp_salt, table):
    """An experiment's assignment of a unit, from the two hashes alone."""
    layer_bucket = bucket(position(layer_salt, unit))
    arm_bucket = bucket(position(exp_salt, unit))
    in_sample = any(lo <= layer_bucket < hi for lo, hi in sample)
    arm = "-"
    if in_sample:
        arm = next(a for lo, hi, a in table if lo <= arm_bucket < hi)
    return layer_bucket, in_sample, arm_bucket, arm


def check_buckets(fields):
    salt, key, pos, b = fields
    p = position(salt, key)
    if p == int(pos) and bucket(p) == int(b):
        return None
    return f"{salt!r} {key!r}: got {p} {bucket(p)}, want {pos} {b}"


def check_experiment(fields, sample, table):
    unit, layer_salt, layer_bucket, in_sample, exp_salt, arm_bucket, arm = fields
    if sample is None or table is None:
        return "vector before the @sample and @table lines"
    got = assign(unit, layer_salt, sample, exp_salt, table)
    want = (int(layer_bucket), in_sample == "yes", int(arm_bucket), arm)
    if got == want:
        return None
    return f"{unit!r} in {layer_salt!r}/{exp_salt!r}: got {got}, want {want}"


def check_file(path):
    passed = failed = 0
    sample = table = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if fields[0] == "@sample":
                sample = parse_ranges(fields[1])
                continue
            if fields[0] == "@table":
                table = parse_table(fields[1])
                continue
            if len(fields) == 4:
                problem = check_buckets(fields)
            elif len(fields) == 7:
                problem = check_experiment(fields, sample, table)
            else:
                problem = f"{len(fields)} fields in {line!r}"
            if problem is None:
                passed += 1
            else:
                failed += 1
                print(f"{path}: mismatch: {problem}")
    print(f"{path}: {passed} passed, {failed} failed")
    return failed == 0 and passed > 0


def main(paths):
    ok = [check_file(p) for p in paths]
    return 0 if paths and all(ok) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
