// Time as the coordinator sees it, behind a seam (LevelDB's Env::NowMicros):
// deadlines, liveness and rate limits read now_s(), a monotonic clock that an
// NTP step cannot stretch; log rows read unix_s(). Tests substitute
// ManualClock and move time by hand instead of sleeping.
// Thread-safety: SystemClock is stateless; ManualClock is for one thread.
#pragma once

#include <chrono>

namespace signfed::net {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual double now_s() const = 0;   // monotonic seconds, arbitrary origin
  virtual double unix_s() const = 0;  // seconds since 1970 (log timestamps)
};

class SystemClock final : public Clock {
 public:
  double now_s() const override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  double unix_s() const override {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
};

// The process's SystemClock (stateless, so one shared instance is safe).
inline const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

// Starts at 1000 s (unix: 1.7e9 + that) and moves only by advance().
class ManualClock final : public Clock {
 public:
  double now_s() const override { return t_; }
  double unix_s() const override { return 1.7e9 + t_; }
  void advance(double seconds) { t_ += seconds; }
  void advance_to(double t) { t_ = t > t_ ? t : t_; }

 private:
  double t_ = 1000.0;
};

}  // namespace signfed::net
