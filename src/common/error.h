// The error value every layer returns. Numbers are the phone platform's (errSec…, TKError…,
// LAError…, kAKSReturn…); our addition is a stable cause id, from which the error catalog
// derives permanence and remedy. Layers wrap (keep `underlying`) rather than replace.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace enclave {

namespace domain {
inline constexpr char kOSStatus[] = "OSStatus";
inline constexpr char kCryptoTokenKit[] = "CryptoTokenKit";
inline constexpr char kLocalAuthentication[] = "LocalAuthentication";
inline constexpr char kAKS[] = "AKS";
inline constexpr char kTPM[] = "TPM";
}  // namespace domain

// OSStatus values used by enclave (SecBase.h numbers).
namespace errsec {
inline constexpr int64_t kUnimplemented = -4;
inline constexpr int64_t kDiskFull = -34;
inline constexpr int64_t kIO = -36;
inline constexpr int64_t kParam = -50;
inline constexpr int64_t kAllocate = -108;
inline constexpr int64_t kUserCanceled = -128;
inline constexpr int64_t kNotAvailable = -25291;
inline constexpr int64_t kAuthFailed = -25293;
inline constexpr int64_t kDuplicateItem = -25299;
inline constexpr int64_t kItemNotFound = -25300;
inline constexpr int64_t kInteractionNotAllowed = -25308;
inline constexpr int64_t kAuthNeeded = -25330;
inline constexpr int64_t kDecode = -26275;
inline constexpr int64_t kInternal = -26276;
inline constexpr int64_t kMissingEntitlement = -34018;
inline constexpr int64_t kVerifyFailed = -67808;
}  // namespace errsec

namespace tkerror {
inline constexpr int64_t kNotImplemented = -1;
inline constexpr int64_t kCommunicationError = -2;
inline constexpr int64_t kCorruptedData = -3;
inline constexpr int64_t kCanceledByUser = -4;
inline constexpr int64_t kAuthenticationFailed = -5;
inline constexpr int64_t kObjectNotFound = -6;
inline constexpr int64_t kTokenNotFound = -7;
inline constexpr int64_t kBadParameter = -8;
inline constexpr int64_t kAuthenticationNeeded = -9;
}  // namespace tkerror

namespace laerror {
inline constexpr int64_t kAuthenticationFailed = -1;
inline constexpr int64_t kUserCancel = -2;
inline constexpr int64_t kUserFallback = -3;
inline constexpr int64_t kSystemCancel = -4;
inline constexpr int64_t kPasscodeNotSet = -5;
inline constexpr int64_t kBiometryNotAvailable = -6;
inline constexpr int64_t kBiometryNotEnrolled = -7;
inline constexpr int64_t kBiometryLockout = -8;
inline constexpr int64_t kAppCancel = -9;
inline constexpr int64_t kInvalidContext = -10;
inline constexpr int64_t kNotInteractive = -1004;
}  // namespace laerror

// kAKSReturn values as signed 32-bit numbers, as they appear in `AKSError=`.
namespace aks {
inline constexpr int64_t kError = -536870212;         // 0xE00002BC
inline constexpr int64_t kNoPermission = -536870174;  // 0xE00002E2: class key locked
inline constexpr int64_t kBadArgument = -536870206;   // 0xE00002C2
inline constexpr int64_t kNotFound = -536870160;      // 0xE00002F0
inline constexpr int64_t kBadPassword = -536870194;   // 0xE00002CE
inline constexpr int64_t kBadDeviceKey = -536363001;  // 0xE007C007: class key lost
inline constexpr int64_t kPolicyInvalid = -536362999;  // 0xE007C009: ACL can never be met
}  // namespace aks

struct Error {
  std::string domain;
  int64_t code = 0;
  std::string description;
  // Extra facts for the user (e.g. "AKSError": -536362999, "retry_after_seconds": 60).
  nlohmann::json user_info = nlohmann::json::object();
  // Stable machine-readable id (see the error catalog); empty means "derive from domain/code".
  std::string cause;
  std::shared_ptr<const Error> underlying;
  // Whether a user was asked (a prompt shown) before this error happened.
  std::optional<bool> prompted;

  // Catalog-derived classification of `effective_cause()`.
  std::string effective_cause() const;
  std::string permanence() const;  // transient | needs-user-action | permanent
  std::string remedy() const;      // retry | unlock | authenticate | ... | reenroll | report
  bool permanently_invalid() const { return permanence() == "permanent"; }

  // Wraps *this as the underlying error of a new outer error, keeping the cause.
  Error Wrap(std::string outer_domain, int64_t outer_code, std::string outer_description) const;
  Error&& WithCause(std::string c) && {
    cause = std::move(c);
    return std::move(*this);
  }
  Error&& WithInfo(const std::string& key, nlohmann::json value) && {
    user_info[key] = std::move(value);
    return std::move(*this);
  }

  // "<domain> <code>: <description>"
  std::string ToString() const;
  // {"domain","code","description","user_info",{"underlying"},"permanence","cause","remedy"[,"prompted"]}
  nlohmann::json ToJson() const;
  static Error FromJson(const nlohmann::json& j);
};

Error OSStatusError(int64_t code, std::string description);
Error TokenError(int64_t code, std::string description);
Error AuthError(int64_t code, std::string description);
Error KeystoreError(int64_t code, std::string description);

}  // namespace enclave
