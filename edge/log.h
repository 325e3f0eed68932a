// Progress and error lines of one edge client, prefixed with its name:
// "[edge-3] joined run 1 as client 3". {fmt} format strings, checked at compile
// time (fmt::format_string): a "{:d}" for a string does not build.
// Const methods write whole lines and flush: each line, prefix and newline
// included, is formatted into a buffer first and then written with a single
// fwrite, which stdio locks per call. So several clients' threads may log at
// once; their lines do not interleave within a line.
#pragma once

#include <cstdio>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace signfed::edge {

class Log {
 public:
  Log(std::string name, bool quiet) : name_(std::move(name)), quiet_(quiet) {}

  // A progress line on stdout; nothing when quiet.
  template <typename... Args>
  void say(fmt::format_string<Args...> format, Args&&... args) const {
    if (!quiet_) line(stdout, format, fmt::make_format_args(args...));
  }
  // An error line on stderr, also when quiet.
  template <typename... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    line(stderr, format, fmt::make_format_args(args...));
  }

  const std::string& name() const { return name_; }

 private:
  void line(std::FILE* out, fmt::string_view format, fmt::format_args args) const;

  std::string name_;
  bool quiet_;
};

}  // namespace signfed::edge
