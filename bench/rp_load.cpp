// rp_load: a load generator for enclave-rpd (make bench-rp, scripts/bench-rp). Simulates N
// devices, each a P-256 key in memory with a WebAuthn credential, over C keep-alive connections:
// first every device registers (options + packed self-attested credential), then for S seconds
// each connection runs full logins (options + assertion) for its devices in turn. Beside them,
// in the same run, it measures raw OpenSSL EVP_DigestVerify P-256 on one core, the ceiling a
// login's verification sits under. Prints one RESULT line (key=value) for the script to compare.
#include <arpa/inet.h>
#include <cbor.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using Bytes = std::vector<unsigned char>;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct CborFree {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
using Cbor = std::unique_ptr<cbor_item_t, CborFree>;

std::string B64u(const Bytes& b) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (unsigned char c : b) {
    v = (v << 8) | c;
    bits += 8;
    while (bits >= 6) out.push_back(a[(v >> (bits -= 6)) & 63]);
  }
  if (bits) out.push_back(a[(v << (6 - bits)) & 63]);
  return out;
}

Bytes Sha256(const void* p, size_t n) {
  Bytes d(32);
  SHA256(static_cast<const unsigned char*>(p), n, d.data());
  return d;
}

Bytes Sign(EVP_PKEY* key, const Bytes& msg) {
  std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size());
  Bytes sig(len);
  EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size());
  sig.resize(len);
  return sig;
}

Bytes Serialize(const Cbor& item) {
  unsigned char* buf = nullptr;
  size_t size = 0;
  size_t n = cbor_serialize_alloc(item.get(), &buf, &size);
  Bytes out(buf, buf + n);
  free(buf);  // allocated by libcbor
  return out;
}

void Put(cbor_item_t* map, cbor_item_t* key, cbor_item_t* value) {
  cbor_map_add(map, cbor_pair{cbor_move(key), cbor_move(value)});
}

struct Device {
  Pkey key;
  Bytes id;
  std::string user;
};

Bytes CoseKey(EVP_PKEY* key) {
  Bytes point(65);
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &len);
  Cbor m(cbor_new_definite_map(5));
  Put(m.get(), cbor_build_uint8(1), cbor_build_uint8(2));
  Put(m.get(), cbor_build_uint8(3), cbor_build_negint8(6));  // -7: ES256
  Put(m.get(), cbor_build_negint8(0), cbor_build_uint8(1));  // -1 crv: P-256
  Put(m.get(), cbor_build_negint8(1), cbor_build_bytestring(point.data() + 1, 32));
  Put(m.get(), cbor_build_negint8(2), cbor_build_bytestring(point.data() + 33, 32));
  return Serialize(m);
}

std::string ClientData(const char* type, const std::string& challenge, const std::string& origin) {
  std::string s = std::string("{\"type\":\"") + type + "\",\"challenge\":\"" + challenge +
                  "\",\"origin\":\"" + origin + "\",\"crossOrigin\":false}";
  return s;
}

Bytes SignedOver(const Bytes& auth_data, const std::string& cdj) {
  Bytes msg = auth_data;
  Bytes h = Sha256(cdj.data(), cdj.size());
  msg.insert(msg.end(), h.begin(), h.end());
  return msg;
}

json Registration(const Device& d, const json& options, const std::string& origin) {
  std::string rp_id = options["rp"]["id"];
  std::string cdj = ClientData("webauthn.create", options["challenge"], origin);
  Bytes ad = Sha256(rp_id.data(), rp_id.size());
  ad.push_back(0x45);  // UP, UV, AT
  ad.insert(ad.end(), {0, 0, 0, 0});
  ad.insert(ad.end(), 16, 0);  // AAGUID
  ad.push_back(static_cast<unsigned char>(d.id.size() >> 8));
  ad.push_back(static_cast<unsigned char>(d.id.size()));
  ad.insert(ad.end(), d.id.begin(), d.id.end());
  Bytes cose = CoseKey(d.key.get());
  ad.insert(ad.end(), cose.begin(), cose.end());
  Bytes sig = Sign(d.key.get(), SignedOver(ad, cdj));
  Cbor stmt(cbor_new_definite_map(2));
  Put(stmt.get(), cbor_build_string("alg"), cbor_build_negint8(6));
  Put(stmt.get(), cbor_build_string("sig"), cbor_build_bytestring(sig.data(), sig.size()));
  Cbor att(cbor_new_definite_map(3));
  Put(att.get(), cbor_build_string("fmt"), cbor_build_string("packed"));
  Put(att.get(), cbor_build_string("attStmt"), cbor_incref(stmt.get()));
  Put(att.get(), cbor_build_string("authData"), cbor_build_bytestring(ad.data(), ad.size()));
  std::string id = B64u(d.id);
  return {{"credential",
           {{"id", id},
            {"rawId", id},
            {"type", "public-key"},
            {"response",
             {{"clientDataJSON", B64u(Bytes(cdj.begin(), cdj.end()))},
              {"attestationObject", B64u(Serialize(att))},
              {"transports", {"internal"}}}},
            {"clientExtensionResults", json::object()}}}};
}

json Assertion(const Device& d, const json& options, const std::string& rp_id, const std::string& origin) {
  std::string cdj = ClientData("webauthn.get", options["challenge"], origin);
  Bytes ad = Sha256(rp_id.data(), rp_id.size());
  ad.push_back(0x05);  // UP, UV
  ad.insert(ad.end(), {0, 0, 0, 0});
  Bytes sig = Sign(d.key.get(), SignedOver(ad, cdj));
  std::string id = B64u(d.id);
  return {{"credential",
           {{"id", id},
            {"rawId", id},
            {"type", "public-key"},
            {"response",
             {{"clientDataJSON", B64u(Bytes(cdj.begin(), cdj.end()))},
              {"authenticatorData", B64u(ad)},
              {"signature", B64u(sig)},
              {"userHandle", nullptr}}},
            {"clientExtensionResults", json::object()}}}};
}

// One keep-alive HTTP/1.1 connection with blocking sockets; enough for a JSON API that always
// answers with Content-Length.
class Conn {
 public:
  Conn(const std::string& host, int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      perror("rp_load: connect");
      exit(1);
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() { close(fd_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // POST a JSON body; the status (0 on a broken connection) and the body in `out`.
  int Post(const std::string& path, const std::string& body, json& out) {
    std::string r = "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (send(fd_, r.data(), r.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(r.size())) return 0;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return 0;
    }
    std::string head = buf_.substr(0, end);
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
    size_t cl = head.find("content-length:");
    size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15));
    while (buf_.size() < end + 4 + len) {
      if (!Fill()) return 0;
    }
    int status = std::atoi(head.c_str() + 9);
    out = json::parse(buf_.substr(end + 4, len), nullptr, false);
    buf_.erase(0, end + 4 + len);
    return status;
  }

 private:
  bool Fill() {
    char tmp[16384];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  std::string buf_;
};

// Raw EVP_DigestVerify P-256 (init + verify per signature, as a server with a cached key does)
// on this thread for `seconds`: verifications per second.
double RawVerifyPerSecond(double seconds) {
  Pkey key(EVP_EC_gen("P-256"));
  Bytes msg(100, 7);
  Bytes sig = Sign(key.get(), msg);
  std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
  auto t0 = Clock::now();
  long n = 0;
  while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) {
    for (int i = 0; i < 100; ++i, ++n) {
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get());
      if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) != 1) abort();
    }
  }
  return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", origin, rp_id = "localhost", label = "rpd";
  int port = 0, devices = 200, conns = 8;
  double seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--port")
      port = std::stoi(v);
    else if (a == "--host")
      host = v;
    else if (a == "--origin")
      origin = v;
    else if (a == "--rp-id")
      rp_id = v;
    else if (a == "--devices")
      devices = std::stoi(v);
    else if (a == "--connections")
      conns = std::stoi(v);
    else if (a == "--seconds")
      seconds = std::stod(v);
    else if (a == "--label")
      label = v;
  }
  if (port == 0) {
    fprintf(stderr, "usage: rp_load --port P [--origin O] [--devices N] [--connections C] [--seconds S]\n");
    return 2;
  }
  if (origin.empty()) origin = "http://localhost:" + std::to_string(port);
  double raw = RawVerifyPerSecond(2);

  std::vector<Device> devs(static_cast<size_t>(devices));
  Bytes salt(6);
  RAND_bytes(salt.data(), static_cast<int>(salt.size()));
  for (size_t i = 0; i < devs.size(); ++i) {
    devs[i].key.reset(EVP_EC_gen("P-256"));
    devs[i].id.resize(32);
    RAND_bytes(devs[i].id.data(), 32);
    devs[i].user = "bench-" + B64u(salt) + "-" + std::to_string(i);
  }
  std::atomic<long> failures{0};
  auto each_connection = [&](auto fn) {
    std::vector<std::thread> ts;
    for (int c = 0; c < conns; ++c) {
      ts.emplace_back([&, c] {
        Conn conn(host, port);
        for (size_t i = static_cast<size_t>(c); i < devs.size(); i += static_cast<size_t>(conns)) {
          if (!fn(conn, devs[i])) {
            ++failures;
            if (failures.load() > 20) return;
          }
        }
      });
    }
    for (auto& t : ts) t.join();
  };

  auto t0 = Clock::now();
  each_connection([&](Conn& conn, Device& d) {
    json o, r;
    if (conn.Post("/v1/registration/options", json{{"user", d.user}}.dump(), o) != 200) return false;
    json opts = o.contains("publicKey") ? o["publicKey"] : o;
    return conn.Post("/v1/registration", Registration(d, opts, origin).dump(), r) == 200;
  });
  double reg_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (failures.load() > 0) {
    fprintf(stderr, "rp_load: %ld registrations failed\n", failures.load());
    return 1;
  }

  std::vector<std::vector<double>> lat(static_cast<size_t>(conns));
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  auto l0 = Clock::now();
  for (int c = 0; c < conns; ++c) {
    ts.emplace_back([&, c] {
      Conn conn(host, port);
      size_t i = static_cast<size_t>(c);
      while (!stop.load()) {
        Device& d = devs[i];
        i = (i + static_cast<size_t>(conns)) % devs.size();
        auto s = Clock::now();
        json o, r;
        if (conn.Post("/v1/authentication/options", json{{"user", d.user}}.dump(), o) != 200 ||
            conn.Post("/v1/authentication",
                      Assertion(d, o.contains("publicKey") ? o["publicKey"] : o, rp_id, origin).dump(),
                      r) != 200) {
          ++failures;
          if (failures.load() > 20) return;
          continue;
        }
        lat[static_cast<size_t>(c)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  double login_s = std::chrono::duration<double>(Clock::now() - l0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  double logins = static_cast<double>(all.size()) / login_s;
  double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99);
  printf(
      "RESULT rp_load db=%s devices=%d connections=%d raw_verify_per_s_core=%.0f registrations_per_s=%.0f "
      "logins_per_s=%.0f login_p50_ms=%.2f login_p99_ms=%.2f logins_over_raw_verify=%.3f failures=%ld\n",
      label.c_str(), devices, conns, raw, devices / reg_s, logins, p50, p99, logins / raw, failures.load());
  return failures.load() > 0 ? 1 : 0;
}
