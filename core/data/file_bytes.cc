#include "core/data/file_bytes.h"

#include <zlib.h>

#include <cerrno>
#include <memory>
#include <system_error>

#include "core/data/dataset.h"

namespace signfed::data {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const noexcept { gzclose(f); }
};

}  // namespace

std::string read_file_bytes(const std::string& path) {
  errno = 0;
  const std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (f == nullptr) {
    const int err = errno;
    throw DataError("cannot open " + path + ": " + (err != 0 ? std::generic_category().message(err) : "out of memory") +
                    " — check the path");
  }
  std::string out;
  constexpr unsigned kChunk = 1U << 20;
  for (;;) {
    const std::size_t old = out.size();
    out.resize(old + kChunk);
    const int r = gzread(f.get(), out.data() + old, kChunk);
    if (r < 0) {
      int errnum = 0;
      const char* msg = gzerror(f.get(), &errnum);
      throw DataError(path + ": " +
                      (errnum == Z_ERRNO ? std::generic_category().message(errno)
                                         : std::string("corrupt gzip data (") + msg + ")") +
                      " — re-create or re-download the file");
    }
    out.resize(old + static_cast<std::size_t>(r));
    if (r == 0) return out;
  }
}

}  // namespace signfed::data
