// signfed-keygen: makes ZeroMQ CURVE key pairs for signfed; see --help.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "net/curve.h"

int main(int argc, char** argv) {
  std::vector<std::string> names;
  std::string dir = ".", allow;
  bool force = false;
  CLI::App app{
      "signfed-keygen: makes CURVE key pairs for signfed: NAME.key (secret, mode 0600) and NAME.pub (public), one "
      "Z85 key per file.\n"
      "The coordinator takes --key COORD.key and --allow FILE (client public keys, one per line, each followed by the\n"
      "one board name it may join as);\n"
      "each edge takes --key EDGE.key and --server-key COORD.pub (and --name NAME, default edge-<client-index>).\n"
      "Example: signfed-keygen coordinator edge-0 edge-1 --allowlist clients.allow"};
  app.add_option("names", names, "key pair names (files NAME.key and NAME.pub)")->required();
  app.add_option("--dir", dir, "directory to write into");
  app.add_option("--allowlist", allow,
                 "also append the public keys of the names other than 'coordinator' to this allowlist file, each bound "
                 "to its name (the edge must join with --name NAME)");
  app.add_flag("--force", force, "overwrite existing key files");
  CLI11_PARSE(app, argc, argv);
  try {
    std::ofstream list;
    if (!allow.empty()) {
      list.open(allow, std::ios::app);
      if (!list) throw signfed::curve::CurveError("cannot append to " + allow);
    }
    for (const std::string& n : names) {
      if (n.empty() || n.find('/') != std::string::npos)
        throw signfed::curve::CurveError("key name '" + n + "' must be a plain file name (use --dir for the directory)");
      const auto k = signfed::curve::generate();
      const std::string stem = dir + "/" + n;
      signfed::curve::write_key_pair(stem, k, force);
      // KEY NAME: the key may join only as board NAME (one key, one board).
      if (list.is_open() && n != "coordinator") list << k.public_key << "  " << n << "\n";
      fmt::print("{0}.key, {0}.pub  public {1}\n", stem, k.public_key);
    }
    if (list.is_open() && !list) throw signfed::curve::CurveError("cannot write " + allow);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "signfed-keygen: {}\n", e.what());
    return 1;
  }
}
