// The reading half of the fleet store: the aggregates' queries. Private to src/rp/store.
#pragma once

#include "rp/store/fleet_store.h"
#include "rp/store/pool.h"

namespace enclave::rp::sql {

class FleetReader {
 public:
  explicit FleetReader(Pool& pool) : pool_(pool) {}

  static Result<std::optional<IssueRecord>> ReadIssueOn(Connection& c, const std::string& cause,
                                                        const std::string& source);
  Result<std::vector<IssueRecord>> ReadIssues();
  Result<std::optional<IssueRecord>> ReadIssue(const std::string& cause, const std::string& source);
  Result<int64_t> ReadActive(int64_t from_hour, int64_t to_hour);
  Result<std::map<std::string, int64_t>> ReadActiveBy(const std::string& dimension, int64_t from_hour,
                                                      int64_t to_hour);
  Result<std::map<int64_t, int64_t>> ReadActiveSeries(int64_t from_hour, int64_t to_hour);
  Result<int64_t> ReadAffected(int64_t from_hour, int64_t to_hour);
  Result<std::map<std::string, int64_t>> ReadAffectedBy(const std::string& dimension, int64_t from_hour,
                                                        int64_t to_hour);
  Result<std::vector<CauseTotals>> ReadCauses(int64_t from_hour, int64_t to_hour);
  Result<std::vector<SeriesPoint>> ReadAffectedSeries(int64_t from_hour, int64_t to_hour,
                                                      const std::optional<std::string>& cause,
                                                      const std::optional<std::string>& source);
  Result<int64_t> ReadIssueAffected(const std::string& cause, const std::string& source, int64_t from_hour,
                                    int64_t to_hour);
  Result<int64_t> ReadIssueRebound(const std::string& cause, const std::string& source, int64_t from_hour,
                                   int64_t to_hour, int64_t until);
  Result<IssueRebinds> ReadIssueRebindTimes(const std::string& cause, const std::string& source);
  Result<std::vector<std::string>> ReadIssueVersions(const std::string& cause, const std::string& source,
                                                     const std::string& dimension);
  Result<std::vector<std::string>> ReadIssueCredentials(const std::string& cause, const std::string& source,
                                                        int64_t limit);
  Result<std::map<std::string, int64_t>> ReadCounters(int64_t from_hour, int64_t to_hour);
  Result<std::vector<FleetStore::StoredReport>> ReadReports(int64_t since, int64_t until, int64_t limit);

 private:
  Pool& pool_;
};

}  // namespace enclave::rp::sql
