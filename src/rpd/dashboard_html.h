// The fleet dashboard's pages (docs/fleet.md, "Dashboard"), rendered on the server from the admin
// API's own JSON documents: the overview from GET /v1/fleet/summary and GET /v1/fleet/issues, an
// issue's page from GET /v1/fleet/issues/{id}. Nothing is computed here that the API does not
// already say (only regrouped for a chart or formatted), so every number on a page is the API's.
// Every text is escaped; chart data travels as JSON in <script type="application/json">, drawn by
// the static dashboard.js, so the Content-Security-Policy can forbid inline scripts.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace enclave::rpd::dashboard {

// What every page's frame needs beyond its content.
struct PageFrame {
  std::string title;
  bool signed_in = false;  // shows the navigation and the logout button
};

// The login form; `message` (may be empty) says why it is shown again.
std::string LoginPage(std::string_view message);
// A page that only says something went wrong (the store is down, no such issue), signed in.
std::string MessagePage(std::string_view title, std::string_view message);
// The overview: totals with their denominator, the affected fraction over time by cause (a line
// chart), the causes in the window, the issues with their states, the per-version breakdown.
std::string OverviewPage(const nlohmann::json& summary, const nlohmann::json& issues);
// One issue: its numbers, its hourly series (chart and table), versions, time to re-bind and the
// affected credential ids.
std::string IssuePage(const nlohmann::json& issue);

// ---- the pieces the pages share (dashboard_html.cpp), exposed for the tests.

// Text for an HTML text node or a quoted attribute value: & < > " ' escaped.
std::string Escape(std::string_view text);
// JSON for a <script type="application/json"> element: '<', '>' and '&' as \u escapes, so no
// value can close the element or open a comment, whatever it holds.
std::string ScriptJson(const nlohmann::json& value);
// A count as the page shows it: digits grouped by thousands ("10,000"); not a number: "—".
std::string Count(const nlohmann::json& value);
// A fraction (0..1) as a percentage with three significant digits ("0.300 %"); not a number: "—".
std::string Percent(const nlohmann::json& value);
// Seconds as "3 h 12 min", "45 s", "2 d 4 h"; not a number: "—".
std::string Duration(const nlohmann::json& seconds);
// A time from the API (RFC 3339 text, or epoch seconds) as RFC 3339 UTC text; else "—".
std::string Time(const nlohmann::json& value);
// The same, as a page shows it: "2025-03-01 12:00 UTC".
std::string ShortTime(const nlohmann::json& value);
// Seconds since the epoch of an API time (RFC 3339 UTC text "YYYY-MM-DDTHH:MM:SSZ", or a number).
std::optional<int64_t> EpochOf(const nlohmann::json& value);
// The raw value for a data-value attribute (the API's number exactly as it serialized it).
std::string Raw(const nlohmann::json& value);
// The page around `body`: head (CSS, viewport), header and navigation, main, footer scripts.
std::string Frame(const PageFrame& frame, std::string_view body);
// A member of an object, or null when `doc` is not an object or lacks it (the pages never throw
// on a document with a missing or mistyped field: they show "—").
const nlohmann::json& Field(const nlohmann::json& doc, std::string_view key);
// Percent-encodes a path segment (an issue id in a link).
std::string PathSegment(std::string_view text);

}  // namespace enclave::rpd::dashboard
