#include "pkcs11/test/harness.h"

#include <dlfcn.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "pkcs11/vendor.h"

namespace enclave::pkcs11::test {

CK_FUNCTION_LIST* Module() {
  static CK_FUNCTION_LIST* list = [] {
    void* h = ::dlopen(ENCLAVE_PKCS11_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      ADD_FAILURE() << "dlopen: " << ::dlerror();
      return static_cast<CK_FUNCTION_LIST*>(nullptr);
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(h, "C_GetFunctionList"));
    CK_FUNCTION_LIST* l = nullptr;
    if (get == nullptr || get(&l) != CKR_OK) ADD_FAILURE() << "C_GetFunctionList";
    return l;
  }();
  return list;
}

void ModuleTest::SetUp() {
  ASSERT_NE(Module(), nullptr);
  char tmpl[] = "/tmp/enclave-p11-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  home_ = tmpl;
  ::setenv("ENCLAVE_HOME", home_.c_str(), 1);
  ::setenv("ENCLAVED", ENCLAVE_BIN_DIR "/enclaved", 1);
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  ASSERT_EQ(f()->C_Initialize(&args), CKR_OK);
}

namespace {

// Runs `enclave ARGS --json` in the test's home, feeding `input` on stdin; returns its JSON output.
nlohmann::json RunCli(const std::filesystem::path& home, const std::string& args,
                      const std::string& input = "") {
  const std::filesystem::path in = home.parent_path() / (home.filename().string() + ".stdin");
  {
    std::ofstream f(in);
    f << input;
  }
  const std::string cmd =
      std::string("'") + ENCLAVE_BIN_DIR + "/enclave' " + args + " --json < '" + in.string() + "'";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = ::pclose(p);
    EXPECT_EQ(status, 0) << cmd << ": " << out;
  } else {
    ADD_FAILURE() << "popen " << cmd;
  }
  std::error_code ec;
  std::filesystem::remove(in, ec);
  auto j = nlohmann::json::parse(out, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

}  // namespace

void ModuleTest::TearDown() {
  f()->C_Finalize(nullptr);
  (void)RunCli(home_, "daemon stop");
  std::error_code ec;
  std::filesystem::remove_all(home_, ec);
}

bool ModuleTest::StopDaemon() { return !RunCli(home_, "daemon stop").is_null(); }

nlohmann::json ModuleTest::Admin(const std::string& command, const nlohmann::json& args,
                                 const std::vector<std::string>& secrets) {
  if (command == "passcode.set") {
    return RunCli(home_, "passcode set --passcode-stdin", secrets.empty() ? "" : secrets[0] + "\n");
  }
  if (command == "config.set") {
    return RunCli(home_, "config set '" + args.at("key").get<std::string>() + "' '" +
                             args.at("value").get<std::string>() + "'");
  }
  if (command == "biometry") {
    std::string cli = "biometry " + args.at("action").get<std::string>();
    if (args.contains("finger")) cli += " --finger " + args.at("finger").get<std::string>();
    return RunCli(home_, cli);
  }
  ADD_FAILURE() << "no CLI command for " << command;
  return nlohmann::json();
}

CK_SESSION_HANDLE ModuleTest::Open(bool rw) {
  CK_SESSION_HANDLE s = 0;
  EXPECT_EQ(f()->C_OpenSession(0, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), nullptr, nullptr, &s),
            CKR_OK);
  return s;
}

std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> ModuleTest::Generate(CK_SESSION_HANDLE s, const std::string& id,
                                                                   bool token,
                                                                   const std::string& access_control) {
  static const Bytes params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  const std::string label = "label-" + id;
  Template pub = Template()
                     .Bool(CKA_TOKEN, token)
                     .Bytes(CKA_EC_PARAMS, params)
                     .Bool(CKA_VERIFY, true)
                     .String(CKA_ID, id)
                     .String(CKA_LABEL, label);
  Template priv = Template()
                      .Bool(CKA_TOKEN, token)
                      .Bool(CKA_SIGN, true)
                      .Bool(CKA_DERIVE, true)
                      .Bool(CKA_SENSITIVE, true)
                      .String(CKA_ID, id)
                      .String(CKA_LABEL, label);
  if (!access_control.empty()) priv.String(CKA_ENCLAVE_ACCESS_CONTROL, access_control);
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE hp = 0, hk = 0;
  EXPECT_EQ(f()->C_GenerateKeyPair(s, &mech, pub.data(), pub.size(), priv.data(), priv.size(), &hp, &hk),
            CKR_OK);
  return {hp, hk};
}

std::vector<CK_OBJECT_HANDLE> ModuleTest::Find(CK_SESSION_HANDLE s, Template tmpl) {
  std::vector<CK_OBJECT_HANDLE> out;
  EXPECT_EQ(f()->C_FindObjectsInit(s, tmpl.data(), tmpl.size()), CKR_OK);
  for (;;) {  // one at a time, as OpenSSH does
    CK_OBJECT_HANDLE h = 0;
    CK_ULONG n = 0;
    EXPECT_EQ(f()->C_FindObjects(s, &h, 1, &n), CKR_OK);
    if (n == 0) break;
    out.push_back(h);
  }
  EXPECT_EQ(f()->C_FindObjectsFinal(s), CKR_OK);
  return out;
}

Bytes ModuleTest::Attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_RV* rv) {
  Template length = Template().Raw(t, nullptr, 0);
  CK_RV r = f()->C_GetAttributeValue(s, o, length.data(), 1);
  if (r != CKR_OK) {
    if (rv) *rv = r;
    return {};
  }
  Bytes out(length.data()->ulValueLen);
  Template value = Template().Raw(t, out.data(), out.size());
  r = f()->C_GetAttributeValue(s, o, value.data(), 1);
  if (rv) *rv = r;
  return out;
}

CK_RV ModuleTest::Sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE m, const Bytes& data,
                       Bytes* sig) {
  CK_MECHANISM mech = {m, nullptr, 0};
  if (CK_RV rv = f()->C_SignInit(s, &mech, key); rv != CKR_OK) return rv;
  Bytes in = data;
  CK_ULONG len = 0;
  if (CK_RV rv = f()->C_Sign(s, in.data(), in.size(), nullptr, &len); rv != CKR_OK) return rv;
  sig->assign(len, 0);
  CK_RV rv = f()->C_Sign(s, in.data(), in.size(), sig->data(), &len);
  sig->resize(len);
  return rv;
}

Bytes ModuleTest::PublicPoint(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub) {
  Bytes der = Attribute(s, pub, CKA_EC_POINT);
  if (der.size() != 67) return {};
  return Bytes(der.begin() + 2, der.end());
}

}  // namespace enclave::pkcs11::test
