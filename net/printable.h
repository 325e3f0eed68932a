// Untrusted text (client names, error texts, peer addresses) made safe for
// the terminal and the log: printable ASCII only, capped at `cap` characters
// with "..." appended when cut.
#pragma once

#include <string>
#include <string_view>

namespace signfed::net {

inline std::string printable(std::string_view s, std::size_t cap) {
  std::string out;
  for (char ch : s.substr(0, cap)) out.push_back(ch >= 0x20 && ch < 0x7f ? ch : '?');
  if (s.size() > cap) out += "...";
  return out;
}

}  // namespace signfed::net
