// Attribute values in Cryptoki's encodings, and a CK_ATTRIBUTE template that owns its values.
// A template built by hand needs a variable for every value that outlives the call and a
// sizeof per entry; a CK_BBOOL given the size of a CK_ULONG there is exactly what the module
// refuses, so the module's values and every template passed to it are encoded here:
//   Template().Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Bytes(CKA_ID, id).Bool(CKA_SIGN, true)
// Header-only: the tests drive the built module through dlopen and link none of its code.
#pragma once

#include <cstring>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "pkcs11/p11.h"

namespace enclave::pkcs11 {

inline Bytes BoolValue(bool b) { return Bytes{static_cast<uint8_t>(b ? CK_TRUE : CK_FALSE)}; }

inline Bytes UlongValue(CK_ULONG v) {
  Bytes out(sizeof v);
  std::memcpy(out.data(), &v, sizeof v);
  return out;
}

class Template {
 public:
  Template() = default;
  // A copy points at its own values.
  Template(const Template& other) : values_(other.values_), owner_(other.owner_), attrs_(other.attrs_) {
    Repoint();
  }
  Template& operator=(const Template& other) {
    if (this != &other) {
      values_ = other.values_;
      owner_ = other.owner_;
      attrs_ = other.attrs_;
      Repoint();
    }
    return *this;
  }
  // Moving the vectors keeps each value's buffer where its attribute points.
  Template(Template&&) = default;
  Template& operator=(Template&&) = default;

  Template& Bool(CK_ATTRIBUTE_TYPE type, bool value) { return Owned(type, BoolValue(value)); }
  Template& Ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) { return Owned(type, UlongValue(value)); }
  Template& Bytes(CK_ATTRIBUTE_TYPE type, ByteView value) {
    return Owned(type, enclave::Bytes(value.begin(), value.end()));
  }
  Template& String(CK_ATTRIBUTE_TYPE type, std::string_view value) {
    return Owned(type, enclave::Bytes(value.begin(), value.end()));
  }
  // Whatever pointer and length the caller gives, not copied: the malformed templates a test
  // or the fuzzer passes on purpose, a NULL value to ask for a length, a buffer to fill.
  Template& Raw(CK_ATTRIBUTE_TYPE type, void* value, CK_ULONG length) {
    owner_.push_back(kNotOwned);
    attrs_.push_back({type, value, length});
    return *this;
  }

  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG size() const { return static_cast<CK_ULONG>(attrs_.size()); }
  const std::vector<CK_ATTRIBUTE>& attributes() const { return attrs_; }

 private:
  static constexpr size_t kNotOwned = static_cast<size_t>(-1);

  // An empty value is a NULL pointer with length 0, as callers pass one.
  Template& Owned(CK_ATTRIBUTE_TYPE type, enclave::Bytes value) {
    values_.push_back(std::move(value));
    owner_.push_back(values_.size() - 1);
    enclave::Bytes& v = values_.back();
    attrs_.push_back({type, v.empty() ? nullptr : v.data(), static_cast<CK_ULONG>(v.size())});
    return *this;
  }

  // Growing values_ moves the values but not their buffers; only a copy needs new pointers.
  void Repoint() {
    for (size_t i = 0; i < attrs_.size(); ++i) {
      if (owner_[i] == kNotOwned) continue;
      enclave::Bytes& v = values_[owner_[i]];
      attrs_[i].pValue = v.empty() ? nullptr : v.data();
    }
  }

  std::vector<enclave::Bytes> values_;
  std::vector<size_t> owner_;  // per attribute: its value in values_, or kNotOwned
  std::vector<CK_ATTRIBUTE> attrs_;
};

}  // namespace enclave::pkcs11
