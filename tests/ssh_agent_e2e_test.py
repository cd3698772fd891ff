"""Issue 8 end to end: enclaved's ssh agent driven by the real OpenSSH clients (ssh-add, ssh-keygen -Y, git,
ssh against a loopback sshd, agent forwarding), through the real daemon and CLI."""
import json
import os
import shutil
import stat
import subprocess
import time
import unittest

from enclave_cli import HomeTest
from sshd_harness import LoopbackSshd

KEY = ["--accessible", "when-unlocked-this-device-only", "--access-control", "private-key-usage"]


def run(cmd, env, stdin=None, timeout=60, cwd=None):
    r = subprocess.run(cmd, env=env, input=stdin, capture_output=True, timeout=timeout, cwd=cwd)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


class AgentHome(HomeTest):
    """A home with one ssh key ("sshkey") and SSH_AUTH_SOCK pointing at enclaved's agent."""

    def setUp(self):
        super().setUp()
        self.key = self.ok("key", "create", "--label", "sshkey", "--application-label", "ssh key", *KEY, "--ssh")
        r = self.h.run("ssh-agent", "env")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.env_line = r.stdout.decode()
        self.sock = self.env_line.split("SSH_AUTH_SOCK=")[1].split(";")[0]
        self.env = dict(self.h.env, SSH_AUTH_SOCK=self.sock)
        rc, out, err = run(["ssh-add", "-L"], self.env)
        self.assertEqual(rc, 0, err)
        self.line = next(l for l in out.splitlines() if l.endswith(" sshkey"))
        self.pub = self.h.write("sshkey.pub", (self.line + "\n").encode())

    def events(self, kind):
        return [e for e in self.ok("events")["events"] if e["kind"] == kind]


class SshAgentFlow(AgentHome):
    def test_env_prints_the_socket_which_is_private(self):
        self.assertRegex(self.env_line, r"^SSH_AUTH_SOCK=\S+; export SSH_AUTH_SOCK;\n$")
        self.assertEqual(self.sock, os.path.join(self.h.dir, "ssh-agent.sock"))
        self.assertEqual(stat.S_IMODE(os.stat(self.sock).st_mode), 0o600)
        self.assertEqual(self.ok("ssh-agent", "env")["SSH_AUTH_SOCK"], self.sock)
        self.assertTrue(self.key["ssh"])

    def test_ssh_add_lists_fingerprints_and_tests_the_key(self):
        self.assertTrue(self.line.startswith("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABB"))
        rc, out, err = run(["ssh-add", "-l"], self.env)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^256 SHA256:[A-Za-z0-9+/]{43} sshkey \(ECDSA\)$")
        fp = run(["ssh-keygen", "-lf", self.pub], self.env)[1].split()[1]
        self.assertIn(fp, out)
        rc, out, err = run(["ssh-add", "-T", self.pub], self.env)
        self.assertEqual(rc, 0, err)
        # A key not marked for ssh is not offered; the comment falls back to the application label.
        self.ok("key", "create", "--application-label", "no-ssh", *KEY)
        self.ok("key", "create", "--application-label", "app-label-only", *KEY, "--ssh")
        out = run(["ssh-add", "-L"], self.env)[1]
        self.assertNotIn(" no-ssh", out)
        self.assertIn(" app-label-only", out)

    def test_ssh_keygen_sign_and_verify_with_allowed_signers(self):
        msg = self.h.write("msg.txt", b"hello enclave\n")
        rc, out, err = run(["ssh-keygen", "-Y", "sign", "-f", self.pub, "-n", "file", msg], self.env)
        self.assertEqual(rc, 0, err)
        with open(msg + ".sig") as f:
            self.assertTrue(f.read().startswith("-----BEGIN SSH SIGNATURE-----"))
        signers = self.h.write("allowed_signers", f"tester@example {self.line}\n".encode())
        verify = ["ssh-keygen", "-Y", "verify", "-f", signers, "-I", "tester@example", "-s", msg + ".sig"]
        rc, out, err = run(verify + ["-n", "file"], self.env, stdin=b"hello enclave\n")
        self.assertEqual(rc, 0, err)
        self.assertIn('Good "file" signature for tester@example with ECDSA key SHA256:', out)
        rc, out, err = run(verify + ["-n", "file"], self.env, stdin=b"tampered\n")
        self.assertNotEqual(rc, 0)
        self.assertIn("incorrect signature", err)
        rc, out, err = run(verify + ["-n", "git"], self.env, stdin=b"hello enclave\n")
        self.assertNotEqual(rc, 0)

    def test_git_commit_signed_and_verified(self):
        repo = self.h.path("repo")
        os.makedirs(repo)
        signers = self.h.write("allowed_signers", f"tester@example {self.line}\n".encode())
        genv = dict(self.env, GIT_CONFIG_NOSYSTEM="1", HOME=self.h.work)
        for c in (["init", "-q"], ["config", "user.name", "Tester"], ["config", "user.email", "tester@example"],
                  ["config", "gpg.format", "ssh"], ["config", "user.signingkey", self.pub],
                  ["config", "gpg.ssh.allowedSignersFile", signers]):
            self.assertEqual(run(["git", "-C", repo, *c], genv)[0], 0)
        rc, out, err = run(["git", "-C", repo, "commit", "-q", "-S", "--allow-empty", "-m", "signed"], genv)
        self.assertEqual(rc, 0, err)
        rc, out, err = run(["git", "-C", repo, "verify-commit", "HEAD"], genv)
        self.assertEqual(rc, 0, err)
        self.assertIn('Good "git" signature for tester@example', out + err)
        # The journal names who asked: git's ssh-keygen, with git above it.
        signs = self.events("ssh-sign")
        self.assertTrue(signs)
        self.assertRegex(signs[-1]["details"]["requester"], r"^ssh-keygen \(\d+\) \u2190 git")

    def test_remove_stops_offering_but_keeps_the_key(self):
        rc, out, err = run(["ssh-add", "-d", self.pub], self.env)
        self.assertEqual(rc, 0, err)
        rc, out, err = run(["ssh-add", "-L"], self.env)
        self.assertEqual(rc, 1)
        self.assertIn("The agent has no identities.", out)
        shown = self.ok("key", "show", "--kid", self.key["kid"])
        self.assertFalse(shown["ssh"])
        self.ok("key", "update", "--kid", self.key["kid"], "--ssh", "on")
        self.assertIn(" sshkey", run(["ssh-add", "-L"], self.env)[1])
        self.assertEqual(run(["ssh-add", "-D"], self.env)[0], 0)
        self.assertEqual(run(["ssh-add", "-L"], self.env)[0], 1)
        self.assertEqual(len(self.ok("key", "list")["keys"]), 1)

    def test_adding_a_file_key_is_refused_with_the_reason_logged(self):
        keyfile = self.h.path("id_ecdsa")
        run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", keyfile], self.env)
        rc, out, err = run(["ssh-add", keyfile], self.env)
        self.assertNotEqual(rc, 0)
        self.assertIn("agent refused operation", err)
        with open(os.path.join(self.h.dir, "logs", "enclaved.log")) as f:
            lines = [json.loads(l) for l in f if '"ssh-agent add-identity"' in l]
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["cause"], "unimplemented")
        self.assertIn("ssh-agent-upstream", lines[0]["reason"])

    def test_upstream_agent_serves_file_keys_through_the_same_socket(self):
        up = self.h.path("upstream.sock")
        agent = subprocess.Popen(["ssh-agent", "-D", "-a", up], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(agent.wait)
        self.addCleanup(agent.terminate)
        for _ in range(100):
            if os.path.exists(up):
                break
            time.sleep(0.05)
        self.ok("config", "set", "ssh-agent-upstream", up)
        keyfile = self.h.path("id_ed25519")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "filekey", "-f", keyfile], self.env)
        rc, out, err = run(["ssh-add", keyfile], self.env)
        self.assertEqual(rc, 0, err)
        rc, out, err = run(["ssh-add", "-L"], self.env)
        self.assertIn(" sshkey", out)
        self.assertIn(" filekey", out)
        self.assertEqual(run(["ssh-add", "-T", keyfile + ".pub"], self.env)[0], 0)
        self.assertEqual(run(["ssh-add", "-T", self.pub], self.env)[0], 0)
        rc, out, err = run(["ssh-add", "-L"], dict(self.env, SSH_AUTH_SOCK=up))
        self.assertNotIn(" sshkey", out)

    def test_biometry_key_prompts_naming_the_caller_and_is_withheld_once_dead(self):
        self.simulator()
        bio = self.ok("key", "create", "--label", "bio-ssh", "--application-label", "bio ssh", "--accessible",
                      "when-unlocked-this-device-only", "--access-control", "biometry-any,private-key-usage", "--ssh")
        out = run(["ssh-add", "-L"], self.env)[1]
        bio_line = next(l for l in out.splitlines() if l.endswith(" bio-ssh"))
        bio_pub = self.h.write("bio.pub", (bio_line + "\n").encode())
        before = self.ok("biometry", "status")["simulator"]["prompts"]
        self.ok("biometry", "match")
        rc, out, err = run(["ssh-add", "-T", bio_pub], self.env)
        self.assertEqual(rc, 0, err)
        sim = self.ok("biometry", "status")["simulator"]
        self.assertEqual(sim["prompts"], before + 1)
        self.assertRegex(sim["last_prompt"], r"^ssh-add \(\d+\).*bio-ssh")
        self.ok("biometry", "cancel")
        self.assertNotEqual(run(["ssh-add", "-T", bio_pub], self.env)[0], 0)
        self.assertEqual(self.events("ssh-sign")[-1]["cause"], "user-canceled")

        self.ok("biometry", "reset")
        self.ok("biometry", "enroll", "--finger", "right-thumb")
        for _ in range(2):
            out = run(["ssh-add", "-L"], self.env)[1]
            self.assertNotIn(" bio-ssh", out)
            self.assertIn(" sshkey", out)
        withheld = self.events("ssh-key-withheld")
        self.assertEqual(len(withheld), 1)
        self.assertEqual(withheld[0]["kids"], [bio["kid"]])
        self.assertEqual(withheld[0]["cause"], "biometry-database-reset")

    def test_no_prompt_possible_fails_fast_and_explain_says_what_to_configure(self):
        self.simulator()
        self.ok("key", "create", "--label", "bio-ssh", "--application-label", "bio ssh", "--accessible",
                "when-unlocked-this-device-only", "--access-control", "biometry-any,private-key-usage", "--ssh")
        out = run(["ssh-add", "-L"], self.env)[1]
        bio_pub = self.h.write("bio.pub", (next(l for l in out.splitlines() if l.endswith(" bio-ssh")) + "\n").encode())
        self.ok("config", "set", "biometry", "none")
        rc, out, err = run(["ssh-add", "-T", bio_pub], self.env, timeout=20)
        self.assertNotEqual(rc, 0)
        event = self.events("ssh-sign")[-1]
        self.assertEqual(event["cause"], "biometry-not-available")
        explained = self.ok("explain", json.dumps(event["details"]["error"]))
        self.assertIn("biometry provider", explained["remedy_text"])

    def test_no_agent_reachable_fails_at_once_with_a_message(self):
        msg = self.h.write("msg.txt", b"hello\n")
        env = dict(self.env, SSH_AUTH_SOCK=os.path.join(self.h.work, "no-agent.sock"))
        rc, out, err = run(["ssh-keygen", "-Y", "sign", "-f", self.pub, "-n", "file", msg], env, timeout=10)
        self.assertNotEqual(rc, 0)
        self.assertIn("No private key found", err)
        self.ok("daemon", "stop")
        rc, out, err = run(["ssh-keygen", "-Y", "sign", "-f", self.pub, "-n", "file", msg], self.env, timeout=10)
        self.assertNotEqual(rc, 0)
        self.assertIn("No private key found", err)


@unittest.skipIf(LoopbackSshd.available(), LoopbackSshd.available() or "")
class SshLoginFlow(AgentHome):
    def setUp(self):
        super().setUp()
        self.sshd = LoopbackSshd(authorized_keys=self.line + "\n").start()
        self.addCleanup(self.sshd.stop)
        self.opts = ["-o", "IdentityFile=" + self.pub, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
        self.host_fp = run(["ssh-keygen", "-lf", os.path.join(self.sshd.dir, "hostkey.pub")], self.env)[1].split()[1]

    def test_login_through_the_agent_names_the_host(self):
        rc, out, err = self.sshd.ssh(["echo", "remote-ok-agent"], env=self.env, extra=self.opts)
        self.assertEqual(rc, 0, err + self.sshd.log())
        self.assertIn("remote-ok-agent", out)
        sign = self.events("ssh-sign")[-1]
        self.assertEqual(sign["details"]["host"], self.host_fp)
        self.assertIn("logging in to host " + self.host_fp, sign["details"]["requester"])
        self.assertRegex(sign["details"]["requester"], r"^ssh \(\d+\)")

    def test_forwarding_lists_the_key_on_the_far_side(self):
        rc, out, err = self.sshd.ssh(["ssh-add", "-L"], env=self.env, extra=["-A", *self.opts])
        self.assertEqual(rc, 0, err)
        self.assertIn(self.line.split()[1], out)

    def test_hundred_forwarded_logins_in_a_row(self):
        back = " ".join(self.sshd.ssh_args(self.opts)) + " true"
        failures = 0
        # make test runs all 100; the sanitizer run (ENCLAVE_E2E_LOGIN_ROUNDS) looks for memory
        # errors on the same path and needs fewer (a login costs 0.8 s instrumented).
        rounds = int(os.environ.get("ENCLAVE_E2E_LOGIN_ROUNDS", "100"))
        for _ in range(rounds):
            rc, out, err = self.sshd.ssh([back], env=self.env, extra=["-A", *self.opts])
            failures += rc != 0
        self.assertEqual(failures, 0, self.sshd.log())
        forwarded = [e for e in self.events("ssh-sign") if e["details"].get("forwarded")]
        self.assertEqual(len(forwarded), rounds)


if __name__ == "__main__":
    unittest.main()
