// A throwaway PostgreSQL for the store tests: initdb and pg_ctl from /usr/lib/postgresql/*/bin in a
// temporary folder, on a free loopback port; as root under a throwaway system user (PostgreSQL
// refuses to run as root). Null when no PostgreSQL server is installed.
#pragma once

#include <memory>
#include <string>

namespace enclave::rp::testing {

class ThrowawayPostgres {
 public:
  static std::unique_ptr<ThrowawayPostgres> Start();
  ~ThrowawayPostgres();
  // A new, empty database on the server: postgresql://postgres@127.0.0.1:PORT/NAME.
  std::string NewDatabase();
  // Runs SQL in a database through psql; true on success.
  bool Psql(const std::string& database, const std::string& sql);
  bool Stop();
  bool Restart();

 private:
  ThrowawayPostgres() = default;
  bool Run(const std::string& command);
  std::string bin_, dir_, user_;
  int port_ = 0;
  int databases_ = 0;
};

}  // namespace enclave::rp::testing
