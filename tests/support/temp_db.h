// A fresh directory under /tmp with a SQLite path in it, removed (with
// everything in it) when the object goes out of scope. For suites that run a
// federation and read its log.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace signfed::test {

struct TempDb {
  std::string dir, path;
  explicit TempDb(const std::string& file = "run.sqlite") {
    char tmpl[] = "/tmp/signfed-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    path = dir + "/" + file;
  }
  ~TempDb() { std::filesystem::remove_all(dir); }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;
};

}  // namespace signfed::test
