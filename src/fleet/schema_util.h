// Shared by the fleet format's parsers (not installed, not for callers): the one error shape, the
// character sets and the time bounds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace enclave::fleet {

inline constexpr int64_t kMinTime = 946684800;     // 2000-01-01T00:00:00Z
inline constexpr int64_t kMaxTime = 253402300799;  // 9999-12-31T23:59:59Z

// `schema-invalid`, errSecDecode, message "<field>: <what>".
Error SchemaError(std::string_view field, std::string_view what);
// The same error with "<prefix>" put before its message ("reports[3]." + "cause: ...").
Error Prefixed(Error error, std::string_view prefix);

bool OneOf(const std::vector<std::string_view>& list, std::string_view value);
bool IsIdentifierChar(char c);  // [A-Za-z0-9._+~:-]
bool IsDomainChar(char c);      // [A-Za-z0-9._-]
bool IsCauseChar(char c);       // [a-z0-9-]
// 1..max_bytes characters, each passing `ok`; the message quotes the set, never the value.
Status CheckCharset(std::string_view field, std::string_view value, size_t max_bytes,
                    std::string_view set_text, bool (*ok)(char));
Status CheckIdentifier(std::string_view field, std::string_view value);

}  // namespace enclave::fleet
