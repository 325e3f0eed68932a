// Child processes for end-to-end tests: spawn a binary with arguments, its
// stdout+stderr going to a file, then wait (with a timeout), signal or kill it.
#pragma once

#include "tests/support/sql_query.h"  // query_number, query_text: the tests that use these read the log

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace signfed::test {

class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args, const std::string& log_path);
  ~Process();  // kills the child if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits up to timeout_s; returns the exit code, 128+signal if killed by a
  // signal, or -1 on timeout (the child keeps running).
  int wait(double timeout_s);
  void signal(int sig);
  bool running();
  std::string output() const;  // the log file's contents
  const std::string& log_path() const { return log_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool done_ = false;
  std::string log_;
};

struct TempDir {
  std::string path;
  TempDir();
  ~TempDir();
};


// Parses "model digest <hex>" from an edge client's output; 0 if absent.
std::uint64_t edge_final_digest(const std::string& output);

// A loopback TCP port that is free right now (bound and released).
int free_tcp_port();

// A process's resident set (VmRSS in /proc/PID/status), in kB; -1 if unknown.
long rss_kb(pid_t pid);

// Polls cond every 50 ms until it holds or timeout_s passes; returns whether
// it held (a condition with a deadline, never a sleep that decides).
bool wait_until(double timeout_s, const std::function<bool()>& cond);

}  // namespace signfed::test
