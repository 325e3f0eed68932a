#include "edge/log.h"

#include <cstdarg>
#include <cstdio>

namespace signfed::edge {

namespace {

void line(std::FILE* out, const std::string& name, const char* fmt, std::va_list ap) {
  char text[2048];
  std::vsnprintf(text, sizeof text, fmt, ap);
  std::fprintf(out, "[%s] %s\n", name.c_str(), text);
  std::fflush(out);
}

}  // namespace

void Log::say(const char* fmt, ...) const {
  if (quiet_) return;
  std::va_list ap;
  va_start(ap, fmt);
  line(stdout, name_, fmt, ap);
  va_end(ap);
}

void Log::error(const char* fmt, ...) const {
  std::va_list ap;
  va_start(ap, fmt);
  line(stderr, name_, fmt, ap);
  va_end(ap);
}

}  // namespace signfed::edge
