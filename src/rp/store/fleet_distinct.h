// Distinct-device counts over any window of hours, kept at ingest, so that a summary reads rows
// per hour and gap rather than per device and hour (docs/fleet.md, "Counting devices").
//
// A stream is a set of (device, hour) memberships: active, affected (source device), affected by
// an issue, found by doctor for an issue, each per breakdown key. For every stream fleet_distinct
// holds, per (hour, prev), how many devices were in it at `hour` whose previous hour in the same
// stream was `prev` (-1: none before). The devices in a stream within hours [a, b] are exactly the
// rows with a <= hour <= b and prev < a: each device is counted once, at its first hour in the
// window. Private to src/rp/store.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "rp/store/sql.h"

namespace enclave::rp::sql {

inline constexpr char kStreamActive[] = "active";      // k1: '' or a dimension, k2: its value
inline constexpr char kStreamAffected[] = "affected";  // the same keys, failures with source device
inline constexpr char kStreamIssue[] = "issue";        // k1: cause, k2: source
inline constexpr char kStreamDoctor[] = "doctor";      // k1: cause, k2: source; found by doctor
// The breakdowns a report's versions give (k1 of the active and affected streams; the affected
// stream also has "token").
inline constexpr const char* kVersionDimensions[] = {"os_version", "app_version", "enclave_version"};

using StreamKey = std::tuple<std::string, std::string, std::string>;  // stream, k1, k2
// One device's hours in each stream it belongs to.
using Memberships = std::map<StreamKey, std::set<int64_t>>;
// (stream, k1, k2, hour, prev) -> change of the count.
using DistinctDeltas = std::map<std::tuple<std::string, std::string, std::string, int64_t, int64_t>, int64_t>;

// On PostgreSQL, takes a transaction lock per device (in order), so that two nodes ingesting for
// one device compute their changes one after the other; a SQLite writer holds the database.
Status LockDevices(Connection& c, const std::set<std::string>& devices);

// The device's memberships as fleet_activity and fleet_affected hold them now.
Result<Memberships> LoadMemberships(Connection& c, const std::string& device);

// Adds the change of the (hour, prev) counts from `before` to `after` of one device.
void AddDistinctDeltas(const Memberships& before, const Memberships& after, DistinctDeltas& deltas);

Status ApplyDistinctDeltas(Connection& c, const DistinctDeltas& deltas);

// "SUM(n) ... WHERE stream = $1 AND k1 = $2 AND k2 = $3 AND hour in [$4, $5] AND prev < $4".
Result<int64_t> CountDistinct(Connection& c, const std::string& stream, const std::string& k1,
                              const std::string& k2, int64_t from_hour, int64_t to_hour);

// Devices of one stream key in each hour of [from_hour, to_hour] (hours without any left out): in
// one hour every device is counted once, whatever its gap.
Result<std::map<int64_t, int64_t>> DevicesPerHour(Connection& c, const std::string& stream,
                                                  const std::string& k1, const std::string& k2,
                                                  int64_t from_hour, int64_t to_hour);

}  // namespace enclave::rp::sql
