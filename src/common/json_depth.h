// One bound on JSON nesting, checked before a parse by every reader of untrusted JSON (the daemon's
// wire codec, the relying party's request bodies, clientDataJSON, fleet report batches).
#pragma once

#include <cstddef>
#include <string_view>

namespace enclave {

// Whether the nesting of arrays and objects in `text` stays within `max_depth`. Brackets inside
// strings (and escaped characters) do not count; a closing bracket with nothing open is left for
// the parser to refuse. Run before nlohmann's parser, whose result's depth is otherwise unbounded.
bool JsonDepthWithin(std::string_view text, size_t max_depth);

}  // namespace enclave
