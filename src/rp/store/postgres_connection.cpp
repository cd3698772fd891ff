#include "rp/store/postgres_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cstring>

namespace enclave::rp::sql {
namespace {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnHandle = std::unique_ptr<PGconn, ConnCloser>;
using ResultHandle = std::unique_ptr<PGresult, ResultClearer>;

// Type oids of the columns the schema uses (pg_type.h).
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23;

std::string Trimmed(const char* s) {
  std::string m = s ? s : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(ConnHandle c) : conn_(std::move(c)) {}
  Dialect dialect() const override { return Dialect::kPostgres; }

  bool Healthy() override {
    if (PQstatus(conn_.get()) != CONNECTION_OK) return false;
    // A server that restarted or shut down has sent its goodbye and closed the socket while the
    // connection sat in the pool: reading it now finds that out before a statement is lost to it.
    pollfd p{PQsocket(conn_.get()), POLLIN, 0};
    if (p.fd < 0) return false;
    if (poll(&p, 1, 0) > 0) {
      if (!PQconsumeInput(conn_.get())) return false;
      while (PGnotify* n = PQnotifies(conn_.get())) PQfreemem(n);
    }
    return PQstatus(conn_.get()) == CONNECTION_OK;
  }

  Status Script(std::string_view sql) override {
    ResultHandle r(PQexec(conn_.get(), std::string(sql).c_str()));
    auto checked = Check(r.get(), "migration");
    if (!checked.ok()) return std::move(checked).error();
    return Ok();
  }

  Result<Rows> Exec(std::string_view sql, const std::vector<Value>& params) override {
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size()), formats(params.size());
    std::vector<Oid> types(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (std::holds_alternative<std::monostate>(v)) {
        values[i] = nullptr;
      } else if (const auto* n = std::get_if<int64_t>(&v)) {
        text[i] = std::to_string(*n);
        values[i] = text[i].c_str();
        types[i] = kInt8Oid;
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        values[i] = s->c_str();
      } else {
        // bytea goes in binary, so no escaping is ever involved.
        const Bytes& b = std::get<Bytes>(v);
        values[i] = b.empty() ? "" : reinterpret_cast<const char*>(b.data());
        lengths[i] = static_cast<int>(b.size());
        formats[i] = 1;
        types[i] = kByteaOid;
      }
    }
    std::string q(sql);
    ResultHandle r(PQexecParams(conn_.get(), q.c_str(), static_cast<int>(params.size()), types.data(),
                                values.data(), lengths.data(), formats.data(), /*resultFormat=*/1));
    ASSIGN_OR_RETURN(Rows out, Check(r.get(), "statement"));
    return out;
  }

 private:
  // Converts a result (binary format) to rows, or its failure to a store error.
  Result<Rows> Check(PGresult* r, const char* what) {
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      std::string message =
          std::string(what) + ": " + Trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get()));
      if (PQstatus(conn_.get()) != CONNECTION_OK) return StoreError(kUnavailable, message);
      const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
      std::string code = state ? state : "";
      if (code == "23505") return StoreError(kConflict, message);
      if (code == "40001" || code == "40P01" || code == "55P03" || code == "57014")
        return StoreError(kBusy, message);
      // Class 08 (connection), 57P (shutdown, crash recovery), 53 (resources): the server, not us.
      if (code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0 || code.rfind("53", 0) == 0)
        return StoreError(kUnavailable, message);
      return StoreError(kFailed, message);
    }
    Rows out;
    const char* changed = PQcmdTuples(r);
    out.changed = changed && *changed ? std::stoll(changed) : 0;
    int columns = PQnfields(r);
    for (int i = 0; i < PQntuples(r); ++i) {
      Row row;
      for (int c = 0; c < columns; ++c) {
        if (PQgetisnull(r, i, c)) {
          row.emplace_back(std::monostate{});
          continue;
        }
        const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(r, i, c));
        size_t len = static_cast<size_t>(PQgetlength(r, i, c));
        Oid type = PQftype(r, c);
        if (type == kInt8Oid || type == kInt4Oid || type == kInt2Oid || type == kBoolOid) {
          // Binary integers are big-endian, two's complement, of their type's width.
          uint64_t v = 0;
          for (size_t k = 0; k < len; ++k) v = (v << 8) | p[k];
          int64_t n = len == 8   ? static_cast<int64_t>(v)
                      : len == 4 ? static_cast<int32_t>(v)
                      : len == 2 ? static_cast<int16_t>(v)
                                 : static_cast<int64_t>(v);
          row.emplace_back(n);
        } else if (type == kByteaOid) {
          row.emplace_back(Bytes(p, p + len));
        } else {
          row.emplace_back(std::string(reinterpret_cast<const char*>(p), len));
        }
      }
      out.rows.push_back(std::move(row));
    }
    return out;
  }

  ConnHandle conn_;
};

}  // namespace

Result<std::unique_ptr<Connection>> OpenPostgres(const std::string& url) {
  // Keywords before dbname are defaults the URL may override; the ones after are ours.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"3", "enclave-rpd", url.c_str(), nullptr};
  ConnHandle conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn) return StoreError(kUnavailable, "out of memory for a PostgreSQL connection");
  if (PQstatus(conn.get()) != CONNECTION_OK)
    return StoreError(kUnavailable, "cannot connect to PostgreSQL: " + Trimmed(PQerrorMessage(conn.get())));
  // Server notices (a shutdown's "terminating connection") would go to stderr, between the
  // server's JSON log lines; the failure they announce is reported as an error instead.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  std::unique_ptr<Connection> c = std::make_unique<PostgresConnection>(std::move(conn));
  // A statement stuck behind a lock or a stalled server ends with an error instead of holding a
  // worker; the HTTP layer has answered 503 long before.
  RETURN_IF_ERROR(c->Script("SET statement_timeout = 10000; SET lock_timeout = 5000;"));
  return c;
}

}  // namespace enclave::rp::sql
