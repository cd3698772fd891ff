#!/usr/bin/env python3
"""Turns bench-compare's RESULT/PROC/SKIP lines into results.json, results.md and chart.png.

usage: summarize.py RAW_LINES OUT_DIR
Each (system, op) keeps the run with the median signs/s. Whole-process rows (PROC) become
ops_per_s = 1000 / median wall ms, p50 = median wall, p99 = slowest run."""
import json
import os
import statistics
import sys

raw, out = sys.argv[1], sys.argv[2]
runs, skips = {}, []
for line in open(raw):
    parts = line.split()
    if not parts:
        continue
    if parts[0] == "SKIP":
        skips.append(line[5:].strip())
        continue
    kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    if parts[0] == "RESULT" and "ops_per_s" in kv:
        row = {"system": kv["system"], "op": kv["op"], "ops_per_s": float(kv["ops_per_s"]),
               "p50_us": float(kv.get("p50_us", 0)), "p99_us": float(kv.get("p99_us", 0))}
    elif parts[0] == "PROC" and "wall_ms_med" in kv:
        system, _, op = kv["label"].partition("/")
        med = float(kv["wall_ms_med"])
        row = {"system": system, "op": op + "_per_process", "ops_per_s": 1000.0 / med if med else 0.0,
               "p50_us": med * 1000.0, "p99_us": float(kv["wall_ms_max"]) * 1000.0}
    else:
        continue
    runs.setdefault((row["system"], row["op"]), []).append(row)

rows = []
for key, rs in runs.items():
    rs.sort(key=lambda r: r["ops_per_s"])
    rows.append(rs[len(rs) // 2])
os.makedirs(out, exist_ok=True)
json.dump({"rows": rows, "skipped": skips}, open(os.path.join(out, "results.json"), "w"), indent=2)


def find(system, op_part):
    """The row of `system` whose op contains `op_part`; an op_part ending in "$" must end the op."""
    for r in rows:
        if r["system"] != system:
            continue
        if r["op"].endswith(op_part[:-1]) if op_part.endswith("$") else op_part in r["op"]:
            return r
    return None


# Each enclave figure against the peer a reader compares it with (ratio of signs/s; for whole
# processes, of time: lower is better).
raw_ossl = find("openssl-evp", "EVP_PKEY_sign_digest32")
one = find("enclave-daemon", "1_in_flight")
comparisons = [
    ("enclave-in-process", "sign_digest32", raw_ossl, "raw OpenSSL EVP_PKEY_sign"),
    ("enclave-daemon", "1_in_flight", raw_ossl, "raw OpenSSL EVP_PKEY_sign"),
    ("enclave-daemon", "digest32_pipelined_16$", raw_ossl, "raw OpenSSL EVP_PKEY_sign (target >= 0.8)"),
    ("enclave-daemon", "digest32_pipelined_64$", raw_ossl, "raw OpenSSL EVP_PKEY_sign (target >= 0.8)"),
    ("enclave-daemon", "2_clients$", one, "enclave daemon, one client (target >= 1.6)"),
    ("enclave-daemon", "2_clients_pipelined_16$", find("enclave-daemon", "digest32_pipelined_16$"),
     "enclave daemon, one client, 16 in flight"),
    ("enclave-daemon", "1_in_flight", find("softhsm2-pkcs11", "tokenkey"), "SoftHSM2 token key, in-process"),
    ("enclave-pkcs11", "tokenkey", find("softhsm2-pkcs11", "tokenkey"), "SoftHSM2 token key (target >= 1.0)"),
    ("enclave-ssh-agent", "SIGN_REQUEST", find("openssh-agent", "SIGN_REQUEST"), "OpenSSH ssh-agent (target >= 5)"),
    ("enclave-tpm2-daemon", "1_in_flight", find("swtpm-esapi", "Esys_Sign"), "raw Esys_Sign, same swtpm"),
]
lines = ["| system | operation | signs/s | p50 µs | p99 µs |", "|---|---|---:|---:|---:|"]
for r in sorted(rows, key=lambda r: (not r["system"].startswith("enclave"), r["system"], r["op"])):
    lines.append(f"| {r['system']} | {r['op']} | {r['ops_per_s']:,.0f} | {r['p50_us']:,.1f} | {r['p99_us']:,.1f} |")
lines += ["", "| enclave | against | ratio of signs/s |", "|---|---|---:|"]
for system, op, ref, label in comparisons:
    r = find(system, op)
    if r and ref:
        lines.append(f"| {system} {r['op']} | {label} | {r['ops_per_s'] / ref['ops_per_s']:.2f}x |")
cli, ossl_cli = find("enclave-cli", "enclave_sign"), find("openssl-cli", "openssl_dgst")
if cli and ossl_cli:
    lines.append(f"| `enclave sign` per process | `openssl dgst -sha256 -sign` per process (time, target <= 0.75) "
                 f"| {cli['p50_us'] / ossl_cli['p50_us']:.2f}x time |")
tpm, esys = find("enclave-tpm2-daemon", "1_in_flight"), find("swtpm-esapi", "Esys_Sign")
if tpm and esys:
    lines.append(f"| enclave tpm2 through the daemon | raw Esys_Sign (time per sign, target <= 1.1) "
                 f"| {tpm['p50_us'] / esys['p50_us']:.2f}x time |")
lookup = find("enclave-keychain", "find_by_application_label")
if lookup:
    lines.append(f"| keychain lookup by application label, {lookup['op'].rsplit('_', 2)[-2]} items | "
                 f"p50 in µs (target <= 50) | {lookup['p50_us']:.1f} µs |")
if skips:
    lines += ["", "Not measured in this run:", ""] + [f"- {s}" for s in skips]
md = "\n".join(lines) + "\n"
open(os.path.join(out, "results.md"), "w").write(md)
print(md)

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("chart.png skipped: python3-matplotlib is not installed (scripts/setup installs it)")
    sys.exit(0)
shown = [r for r in rows if not r["op"].endswith("_per_process") and r["system"] != "platform"]
shown.sort(key=lambda r: r["ops_per_s"])
labels = [f"{r['system']}\n{r['op']}" for r in shown]
colors = ["tab:blue" if r["system"].startswith("enclave") else "tab:gray" for r in shown]
fig, (a, b) = plt.subplots(1, 2, figsize=(14, 0.45 * len(shown) + 1.5), sharey=True)
a.barh(labels, [r["ops_per_s"] for r in shown], color=colors)
a.set_xlabel("signs/s (higher is better)")
b.barh(labels, [r["p99_us"] for r in shown], color=colors)
b.set_xlabel("p99 latency, µs (lower is better)")
b.set_xscale("log")
a.tick_params(axis="y", labelsize=7)
fig.suptitle("ECDSA P-256 signing, one run on one machine (blue: enclave, grey: peers)")
fig.tight_layout()
fig.savefig(os.path.join(out, "chart.png"), dpi=110)
print("wrote", os.path.join(out, "results.json"), os.path.join(out, "results.md"), os.path.join(out, "chart.png"))
