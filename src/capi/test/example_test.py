#!/usr/bin/env python3
"""docs/c-api.md's example, extracted from the doc, compiled against the build tree's header and
library (strict C99 warnings) and run through the field report's flow with the simulator:
create and sign, sign again, then after `biometry reset` the dead key's error."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile


def extract(doc):
    text = open(doc, encoding="utf-8").read()
    m = re.search(r"<!-- example: field\.c -->\s*```c\n(.*?)```", text, re.S)
    if not m:
        sys.exit(f"{doc}: no ```c block after <!-- example: field.c -->")
    return m.group(1)


def main():
    ap = argparse.ArgumentParser()
    for name in ("doc", "include", "lib", "bin", "cc"):
        ap.add_argument("--" + name, required=True)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="enclave-capi-")
    home = os.path.join(tmp, "home")
    os.makedirs(home, mode=0o700)
    env = dict(os.environ, ENCLAVE_HOME=home, ENCLAVED=os.path.join(a.bin, "enclaved"), LD_LIBRARY_PATH=a.lib)
    cli = os.path.join(a.bin, "enclave")
    failures = []

    def run(cmd):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        print("$", " ".join(cmd), "->", r.returncode, "\n" + r.stdout + r.stderr)
        return r

    def expect(what, ok):
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            failures.append(what)

    try:
        src = os.path.join(tmp, "field.c")
        open(src, "w").write(extract(a.doc))
        exe = os.path.join(tmp, "field")
        r = run([a.cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-o", exe, src, "-I" + a.include,
                 "-L" + a.lib, "-lenclave", "-lcrypto"])
        if r.returncode != 0:
            sys.exit("the example does not compile")
        for args in (["config", "set", "biometry", "simulator"], ["biometry", "enroll", "--finger", "right-thumb"],
                     ["biometry", "match"]):
            if run([cli] + args).returncode != 0:
                sys.exit("cannot set up the biometry simulator")

        first = run([exe])
        expect("first run: the lookup reports not found with OSStatus -25300 item-not-found",
               "not found: domain=OSStatus code=-25300 cause=item-not-found permanence=none remedy=none" in first.stdout)
        expect("first run: creates, finds, signs and verifies",
               first.returncode == 0 and "created " in first.stdout and "verified=1" in first.stdout)
        kid = re.search(r"^found (\S+)", first.stdout, re.M)
        second = run([exe])
        expect("second run: finds the same key and signs", second.returncode == 0 and "not found" not in second.stdout
               and kid is not None and f"found {kid.group(1)}" in second.stdout and "verified=1" in second.stdout)
        run([cli, "biometry", "reset"])
        run([cli, "biometry", "enroll", "--finger", "right-thumb"])
        dead = run([exe])
        expect("after biometry reset: CryptoTokenKit -3, biometry-database-reset, permanent, reenroll, not prompted",
               dead.returncode != 0 and "sign: domain=CryptoTokenKit code=-3 cause=biometry-database-reset "
               "permanence=permanent remedy=reenroll prompted=0" in dead.stdout)
    finally:
        subprocess.run([cli, "daemon", "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
