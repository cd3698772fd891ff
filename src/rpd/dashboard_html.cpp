#include "rpd/dashboard_html.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace enclave::rpd::dashboard {

using nlohmann::json;

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string ScriptJson(const json& value) {
  // Invalid UTF-8 in a document (it should never be there) is replaced rather than thrown on.
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Count(const json& value) {
  if (!value.is_number()) return "—";
  if (!value.is_number_integer()) return Raw(value);
  std::string digits = std::to_string(value.get<int64_t>());
  bool negative = !digits.empty() && digits[0] == '-';
  if (negative) digits.erase(0, 1);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return negative ? "-" + out : out;
}

std::string Percent(const json& value) {
  if (!value.is_number()) return "—";
  double pct = value.get<double>() * 100.0;
  if (!std::isfinite(pct)) return "—";
  char buf[64];
  if (pct == 0) {
    std::snprintf(buf, sizeof buf, "0 %%");
  } else if (std::fabs(pct) >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f %%", pct);
  } else {
    // Three significant digits, kept as fixed decimals: 12.3 %, 0.300 %, 0.00420 %.
    auto decimals_of = [](double v) {
      int d = 2 - static_cast<int>(std::floor(std::log10(std::fabs(v))));
      return d < 0 ? 0 : d > 8 ? 8 : d;
    };
    // Rounded first, then counted again: 0.09997 rounds to 0.100, three digits, not 0.1000.
    int decimals = decimals_of(pct);
    double scale = std::pow(10.0, decimals);
    decimals = decimals_of(std::round(pct * scale) / scale);
    std::snprintf(buf, sizeof buf, "%.*f %%", decimals, pct);
  }
  return buf;
}

std::string Duration(const json& seconds) {
  if (!seconds.is_number()) return "—";
  double s = seconds.get<double>();
  if (!std::isfinite(s) || s < 0) return "—";
  auto whole = static_cast<int64_t>(std::llround(s));
  if (whole < 60) return std::to_string(whole) + " s";
  int64_t minutes = whole / 60, hours = minutes / 60, days = hours / 24;
  if (hours == 0)
    return std::to_string(minutes) + " min" + (whole % 60 ? " " + std::to_string(whole % 60) + " s" : "");
  if (days == 0)
    return std::to_string(hours) + " h" + (minutes % 60 ? " " + std::to_string(minutes % 60) + " min" : "");
  return std::to_string(days) + " d" + (hours % 24 ? " " + std::to_string(hours % 24) + " h" : "");
}

std::string Time(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_number()) return "—";
  auto t = static_cast<time_t>(value.get<int64_t>());
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return "—";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<int64_t> EpochOf(const json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (!value.is_string()) return std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  std::tm tm{};
  char z = 0;
  if (s.size() != 20 ||
      std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &z) != 7 ||
      z != 'Z') {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

std::string ShortTime(const json& value) {
  auto t = EpochOf(value);
  if (!t) return Time(value);
  auto tt = static_cast<time_t>(*t);
  std::tm tm{};
  if (!gmtime_r(&tt, &tm)) return "—";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string Raw(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

const json& Field(const json& doc, std::string_view key) {
  static const json kNull;
  if (!doc.is_object()) return kNull;
  auto it = doc.find(key);
  return it == doc.end() ? kNull : *it;
}

std::string PathSegment(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Frame(const PageFrame& frame, std::string_view body) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
      Escape(frame.title) +
      " · enclave fleet</title>"
      "<link rel=\"stylesheet\" href=\"/fleet/static/dashboard.css\"></head>\n<body>"
      "<a class=\"skip\" href=\"#main\">Skip to the content</a>"
      "<header><p class=\"brand\"><a href=\"/fleet\">enclave fleet</a></p>";
  if (frame.signed_in) {
    out +=
        "<nav aria-label=\"Dashboard\"><ul><li><a href=\"/fleet\">Overview</a></li>"
        "<li><a href=\"/fleet#issues\">Issues</a></li><li><a href=\"/fleet#versions\">Versions</a></li>"
        "</ul></nav><form class=\"logout\" method=\"post\" action=\"/fleet/logout\">"
        "<button type=\"submit\">Log out</button></form>";
  }
  out += "</header>\n<main id=\"main\" tabindex=\"-1\">";
  out += body;
  out += "</main>\n";
  if (frame.signed_in) {
    out +=
        "<script src=\"/fleet/static/chart.js\"></script>"
        "<script src=\"/fleet/static/dashboard.js\"></script>";
  }
  out += "</body></html>\n";
  return out;
}

std::string LoginPage(std::string_view message) {
  std::string body =
      "<h1>Fleet dashboard</h1>"
      "<form class=\"login\" method=\"post\" action=\"/fleet/login\">"
      "<p>Sign in with the server's admin token (the content of <code>--admin-token-file</code>).</p>";
  if (!message.empty())
    body += "<p class=\"message\" role=\"alert\" id=\"login-message\">" + Escape(message) + "</p>";
  body +=
      "<p><label for=\"token\">Admin token</label>"
      "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required "
      "autofocus spellcheck=\"false\"></p>"
      "<p><button type=\"submit\">Sign in</button></p></form>";
  return Frame({"Sign in", false}, body);
}

std::string MessagePage(std::string_view title, std::string_view message) {
  return Frame({std::string(title), true}, "<h1>" + Escape(title) +
                                               "</h1><p class=\"message\" role=\"alert\">" + Escape(message) +
                                               "</p><p><a href=\"/fleet\">Back to the overview</a></p>");
}

}  // namespace enclave::rpd::dashboard
