#include "throwaway_postgres.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

namespace enclave::rp::testing {
namespace {

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

}  // namespace

bool ThrowawayPostgres::Run(const std::string& command) {
  std::string full = (user_.empty() ? "" : "runuser -u " + user_ + " -- ") + command + " >/dev/null 2>&1";
  return std::system(full.c_str()) == 0;
}

std::unique_ptr<ThrowawayPostgres> ThrowawayPostgres::Start() {
  std::string bin;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    if (std::filesystem::exists(e.path() / "bin/initdb") && (bin.empty() || e.path().string() > bin))
      bin = e.path().string();
  }
  if (bin.empty()) return nullptr;
  std::unique_ptr<ThrowawayPostgres> pg(new ThrowawayPostgres);
  pg->bin_ = bin + "/bin";
  char tmpl[] = "/tmp/rp-store-pg-XXXXXX";
  if (!mkdtemp(tmpl)) return nullptr;
  pg->dir_ = tmpl;
  if (geteuid() == 0) {
    std::random_device rd;
    pg->user_ = "rpstore" + std::to_string(rd() % 1000000);
    std::string add = "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin " +
                      pg->user_ + " && chown " + pg->user_ + " " + pg->dir_;
    if (std::system(add.c_str()) != 0) return nullptr;
  }
  pg->port_ = FreePort();
  if (!pg->Run(pg->bin_ + "/initdb -D " + pg->dir_ +
               "/data -U postgres -A trust --no-sync -E UTF8 --no-locale"))
    return nullptr;
  if (!pg->Restart()) return nullptr;
  return pg;
}

bool ThrowawayPostgres::Restart() {
  return Run(bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
             "/log -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_ +
             " -c fsync=off\" start");
}

bool ThrowawayPostgres::Stop() { return Run(bin_ + "/pg_ctl -D " + dir_ + "/data -m fast -w -t 60 stop"); }

bool ThrowawayPostgres::Psql(const std::string& database, const std::string& sql) {
  std::string cmd = "psql 'postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database +
                    "' -v ON_ERROR_STOP=1 -Atc \"" + sql + "\" >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string ThrowawayPostgres::NewDatabase() {
  std::string name = "store_test_" + std::to_string(++databases_);
  if (!Psql("postgres", "create database " + name)) return "";
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + name;
}

ThrowawayPostgres::~ThrowawayPostgres() {
  Run(bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w -t 60 stop");
  if (!user_.empty()) std::system(("userdel " + user_ + " >/dev/null 2>&1").c_str());
  std::filesystem::remove_all(dir_);
}

}  // namespace enclave::rp::testing
