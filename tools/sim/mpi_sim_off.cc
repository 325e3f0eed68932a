// signfed-sim built without MPI (SIGNFED_WITH_MPI=OFF): --mpi says so.
#include <cstdlib>
#include <stdexcept>

#include "tools/sim/mpi_sim.h"

namespace signfed::sim {

namespace {
constexpr const char* kNoMpi =
    "this signfed-sim was built without MPI: install libopenmpi-dev openmpi-bin and reconfigure "
    "(SIGNFED_WITH_MPI=ON)";
}

bool mpi_built() { return false; }
MpiSession::MpiSession(int*, char***) { throw std::runtime_error(kNoMpi); }
MpiSession::~MpiSession() = default;
void MpiSession::abort(int code) { std::exit(code); }
int mpi_rank() { return 0; }
int mpi_size() { return 1; }
std::string mpi_refusal(const SimConfig&, const std::function<bool(std::string_view)>&) { return kNoMpi; }
SimResult run_mpi(const SimConfig&, std::shared_ptr<const data::Dataset>,
                  const std::vector<std::vector<std::uint32_t>>&,
                  const std::vector<ClientProfile>&) {
  throw std::runtime_error(kNoMpi);
}

}  // namespace signfed::sim
