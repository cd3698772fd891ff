#!/usr/bin/env python3
"""The C API as a developer meets it after `make install`: cmake --install into a throwaway DESTDIR,
docs/c-api.md's example built with nothing but `pkg-config --cflags --libs enclave` against that
tree, and the installed Python package; both run without $ENCLAVED, so the library must find the
installed daemon itself."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from example_test import extract  # noqa: E402

PY = r'''
import enclave, sys
e = enclave.open()
k = e.find_key(application_label=b"unique label")
try:
    k.sign("ecdsa-signature-message-x962-sha256", b"data", prompt="Verify your identity")
    print("signed")
except enclave.Error as err:
    print("dead", err.domain, err.code, err.cause, err.permanence, err.remedy, err.prompted)
'''


def main():
    build, doc, cc = sys.argv[1:4]
    tmp = tempfile.mkdtemp(prefix="enclave-capi-inst-")
    root, home = os.path.join(tmp, "root"), os.path.join(tmp, "home")
    os.makedirs(home, mode=0o700)
    failures = []

    def run(cmd, env, **kw):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, **kw)
        print("$", " ".join(cmd), "->", r.returncode, "\n" + (r.stdout + r.stderr)[-1500:])
        return r

    def expect(what, ok):
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            failures.append(what)

    env = {k: v for k, v in os.environ.items() if k not in ("ENCLAVED", "ENCLAVE_LIBRARY", "PYTHONPATH")}
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if p and not p.startswith(build))
    cli = None
    try:
        if run(["cmake", "--install", build, "--prefix", "/usr"], dict(env, DESTDIR=root)).returncode != 0:
            sys.exit("cmake --install failed")
        pcs = glob.glob(root + "/usr/**/pkgconfig/enclave.pc", recursive=True)
        libs = glob.glob(root + "/usr/lib/**/libenclave.so.0", recursive=True)
        pkgs = glob.glob(root + "/usr/lib/python3*/**/enclave/__init__.py", recursive=True)
        cli = os.path.join(root, "usr", "bin", "enclave")
        expect("installed: enclave.pc, libenclave.so.0, the header, the Python package",
               pcs and libs and pkgs and os.path.exists(root + "/usr/include/enclave/enclave.h"))
        if failures:
            return 1
        env.update(ENCLAVE_HOME=home, LD_LIBRARY_PATH=os.path.dirname(libs[0]),
                   PYTHONPATH=os.path.dirname(os.path.dirname(pkgs[0])))
        pc_env = dict(env, PKG_CONFIG_SYSROOT_DIR=root, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
        flags = run(["pkg-config", "--cflags", "--libs", "enclave"], pc_env)
        expect("pkg-config gives -lenclave and the installed include dir",
               flags.returncode == 0 and "-lenclave" in flags.stdout and root in flags.stdout)
        src, exe = os.path.join(tmp, "field.c"), os.path.join(tmp, "field")
        open(src, "w").write(extract(doc))
        r = run([cc, "-o", exe, src] + flags.stdout.split() + ["-lcrypto"], env)
        expect("the example builds with pkg-config's flags only", r.returncode == 0)
        for args in (["config", "set", "biometry", "simulator"], ["biometry", "enroll", "--finger", "right-thumb"],
                     ["biometry", "match"]):
            run([cli] + args, env)
        run([cli, "daemon", "stop"], env)  # so that the library has to start the installed daemon
        r = run([exe], env)
        expect("C: not found, create, find, sign, verify (the library started the installed daemon)",
               r.returncode == 0 and "code=-25300 cause=item-not-found" in r.stdout and "verified=1" in r.stdout)
        run([cli, "biometry", "reset"], env)
        run([cli, "biometry", "enroll", "--finger", "right-thumb"], env)
        r = run(["/usr/bin/python3", "-c", PY], env)
        expect("Python (installed package): the dead key is CryptoTokenKit -3, permanent, reenroll, not prompted",
               "dead CryptoTokenKit -3 biometry-database-reset permanent reenroll False" in r.stdout)
    finally:
        if cli and os.path.exists(cli):
            subprocess.run([cli, "daemon", "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
