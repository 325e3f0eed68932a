#include "edge/log.h"

#include <iterator>

#include <fmt/format.h>

namespace signfed::edge {

void Log::line(std::FILE* out, fmt::string_view format, fmt::format_args args) const {
  fmt::memory_buffer buf;
  fmt::format_to(std::back_inserter(buf), "[{}] ", name_);
  fmt::vformat_to(std::back_inserter(buf), format, args);
  buf.push_back('\n');
  std::fwrite(buf.data(), 1, buf.size(), out);  // one call: the whole line, under stdio's lock
  std::fflush(out);
}

}  // namespace signfed::edge
