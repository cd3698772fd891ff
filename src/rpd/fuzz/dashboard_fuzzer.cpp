// libFuzzer target for what the dashboard reads from a request (the Cookie header, the login form,
// the query, the Origin check) and for its pages rendered from arbitrary JSON: whatever the
// documents hold, a page never carries markup that came from them. The first byte picks the
// function, the rest is its input.
//   build-fuzz/fuzz/rpd_dashboard_fuzzer src/rpd/fuzz/corpus/rpd_dashboard_fuzzer
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "rpd/dashboard_html.h"
#include "rpd/dashboard_session.h"

namespace {

// Markup a page never holds unless the renderer wrote it: any of these came from a document.
void CheckPage(const std::string& html) {
  for (const char* bad : {"<script>", "<img", "<iframe", "<svg", "href=\"javascript"}) {
    if (html.find(bad) != std::string::npos) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace d = enclave::rpd::dashboard;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      (void)d::CookieValue(in, d::kSessionCookie);
      break;
    case 1:
      (void)d::FormField(in, "token");
      break;
    case 2:
      (void)d::QueryParam(in, "since");
      break;
    case 3: {
      size_t nl = in.find('\n');
      (void)d::SameOrigin(in.substr(0, nl), nl == std::string_view::npos ? "" : in.substr(nl + 1),
                          {"https://rp.example"});
      break;
    }
    default: {
      auto doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (doc.is_discarded()) return 0;
      CheckPage(d::OverviewPage(doc, doc));
      CheckPage(d::IssuePage(doc));
    }
  }
  return 0;
}
