#include "crypto/message_digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/ossl.h"

namespace enclave::crypto {
namespace {

constexpr size_t kChunk = 256 * 1024;

Error IoError(const std::string& what) { return OSStatusError(errsec::kIO, what).WithCause("bad-parameter"); }

}  // namespace

struct StreamingDigest::Impl {
  ossl::MdCtxPtr ctx;
};

StreamingDigest::StreamingDigest(Hash h) : impl_(std::make_unique<Impl>()) {
  impl_->ctx.reset(EVP_MD_CTX_new());
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx.get(), internal::Md(h), nullptr) != 1) {
    internal::Fatal("EVP_DigestInit_ex");
  }
}
StreamingDigest::~StreamingDigest() = default;
StreamingDigest::StreamingDigest(StreamingDigest&&) noexcept = default;
StreamingDigest& StreamingDigest::operator=(StreamingDigest&&) noexcept = default;

void StreamingDigest::Update(ByteView chunk) {
  if (!chunk.empty() && EVP_DigestUpdate(impl_->ctx.get(), chunk.data(), chunk.size()) != 1) {
    internal::Fatal("EVP_DigestUpdate");
  }
}

Bytes StreamingDigest::Final() {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &len) != 1) internal::Fatal("EVP_DigestFinal_ex");
  out.resize(len);
  return out;
}

std::optional<Algorithm> DigestCounterpart(const Algorithm& alg) {
  if (alg.operation != Operation::kSign || !alg.is_message || !alg.hash) return std::nullopt;
  std::string name = alg.name;
  const auto at = name.find("-message-");
  if (at == std::string::npos) return std::nullopt;
  name.replace(at, 9, "-digest-");
  auto digest = FindAlgorithm(name);
  if (!digest.ok() || digest->is_message || digest->hash != alg.hash ||
      digest->raw_signature != alg.raw_signature) {
    return std::nullopt;
  }
  return std::move(digest).value();
}

Result<Bytes> DigestStream(Hash h, const ChunkReader& read) {
  StreamingDigest digest(h);
  Bytes buf(kChunk);
  for (;;) {
    const long n = read(buf.data(), buf.size());
    if (n < 0) return IoError("error reading the message");
    if (n == 0) break;
    digest.Update(ByteView(buf.data(), static_cast<size_t>(n)));
  }
  return digest.Final();
}

Result<Bytes> DigestFile(Hash h, const std::string& path) {
  const bool in = path == "-";
  const int fd = in ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot read '" + path + "': " + std::strerror(errno));
  auto digest = DigestStream(h, [fd](uint8_t* buf, size_t len) -> long {
    for (;;) {
      const ssize_t n = ::read(fd, buf, len);
      if (n < 0 && errno == EINTR) continue;
      return static_cast<long>(n);
    }
  });
  if (!in) ::close(fd);
  if (!digest.ok()) return IoError("error reading '" + path + "'");
  return digest;
}

Result<std::optional<SignInput>> PrehashForSigning(const std::string& algorithm, ByteView message) {
  auto alg = FindAlgorithm(algorithm);
  if (!alg.ok()) return std::optional<SignInput>();  // the service says what is wrong with it
  auto digest_alg = DigestCounterpart(*alg);
  if (!digest_alg) return std::optional<SignInput>();
  return std::optional<SignInput>(SignInput{digest_alg->name, Digest(*alg->hash, message)});
}

Result<std::optional<SignInput>> PrehashFileForSigning(const std::string& algorithm,
                                                       const std::string& path) {
  auto alg = FindAlgorithm(algorithm);
  if (!alg.ok()) return std::optional<SignInput>();
  auto digest_alg = DigestCounterpart(*alg);
  if (!digest_alg) return std::optional<SignInput>();
  ASSIGN_OR_RETURN(Bytes digest, DigestFile(*alg->hash, path));
  return std::optional<SignInput>(SignInput{digest_alg->name, std::move(digest)});
}

}  // namespace enclave::crypto
