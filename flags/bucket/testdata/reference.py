#!/usr/bin/env python3
"""Independent reference for ramp's bucketing contract, version 1.

Reads the golden file given as the first argument and checks every vector
with a from-scratch XXH64 written with Python integers, to show that the
documented algorithm (docs/bucketing.md) is reproducible outside Go.
Prints "N passed, 0 failed" or the mismatches, and exits non-zero on any.
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


def main(path):
    passed = failed = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            salt, key, pos, b = line.split("\t")
            p = position(salt, key)
            if p == int(pos) and bucket(p) == int(b):
                passed += 1
            else:
                failed += 1
                print(f"mismatch: {salt!r} {key!r}: got {p} {bucket(p)}, want {pos} {b}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
