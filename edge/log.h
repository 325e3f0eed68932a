// Progress and error lines of one edge client, prefixed with its name:
// "[edge-3] joined run 1 as client 3". printf formats, checked by the compiler.
// Const methods write whole lines (one fprintf each) and flush; safe to call
// from several clients' threads at once (lines do not interleave within a line).
#pragma once

#include <string>
#include <utility>

namespace signfed::edge {

class Log {
 public:
  Log(std::string name, bool quiet) : name_(std::move(name)), quiet_(quiet) {}

  // A progress line on stdout; nothing when quiet.
  void say(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  // An error line on stderr, also when quiet.
  void error(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool quiet_;
};

}  // namespace signfed::edge
