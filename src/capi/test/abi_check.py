#!/usr/bin/env python3
"""The ABI of libenclave.so.0: its exported dynamic symbols (nm -D --defined-only) must be exactly
the committed list. A new function is added to abi/symbols.txt on purpose; a removed or renamed
one breaks the soname's promise and fails here."""
import subprocess
import sys


def exported(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] not in "TDBRVWiu":
            continue  # absolute version-node symbols (type A) are not functions
        names.add(parts[2])
    return names


def main():
    nm, lib, listing = sys.argv[1:4]
    want = {l.strip() for l in open(listing) if l.strip() and not l.startswith("#")}
    got = exported(nm, lib)
    extra, missing = sorted(got - want), sorted(want - got)
    for s in extra:
        print("exported but not in the committed list:", s)
    for s in missing:
        print("in the committed list but not exported:", s)
    soname = subprocess.run(["objdump", "-p", lib], check=True, capture_output=True, text=True).stdout
    if "SONAME               libenclave.so.0" not in soname:
        print("the soname is not libenclave.so.0")
        return 1
    if extra or missing:
        return 1
    print(f"{len(got)} exported symbols match {listing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
