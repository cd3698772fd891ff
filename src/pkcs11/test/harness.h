// Loads the built libenclave-pkcs11.so with dlopen and drives it through its function list, in a
// throwaway enclave home with the real enclaved behind it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "pkcs11/p11.h"
#include "pkcs11/template.h"

namespace enclave::pkcs11::test {

// The module's function list (loaded once per process, never unloaded).
CK_FUNCTION_LIST* Module();

class ModuleTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  CK_FUNCTION_LIST* f() { return Module(); }
  // What a user does beside the module (passcode, biometry simulator), through the real `enclave`
  // CLI: the test must not link the client library, whose protocol descriptors the module
  // registers too.
  nlohmann::json Admin(const std::string& command, const nlohmann::json& args = nlohmann::json::object(),
                       const std::vector<std::string>& secrets = {});

  // Stops the home's daemon (`enclave daemon stop`); the module must reconnect on its next call.
  bool StopDaemon();

  CK_SESSION_HANDLE Open(bool rw = true);
  // Generates an EC key pair with CKA_ID = id; returns {public, private}.
  std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> Generate(CK_SESSION_HANDLE s, const std::string& id,
                                                         bool token = true,
                                                         const std::string& access_control = "");
  std::vector<CK_OBJECT_HANDLE> Find(CK_SESSION_HANDLE s, Template tmpl);
  Bytes Attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, CK_RV* rv = nullptr);
  CK_RV Sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE m, const Bytes& data, Bytes* sig);
  Bytes PublicPoint(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub);  // X9.63, from CKA_EC_POINT

  std::filesystem::path home_;
};

}  // namespace enclave::pkcs11::test
