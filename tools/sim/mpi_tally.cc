#include "tools/sim/mpi_tally.h"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace signfed::sim {

namespace {

void check(int rc, const char* what) { mpi_check(rc, what); }

// The send buffer of MPI_Reduce: MPI_IN_PLACE on the root.
template <class T>
void* send_of(T* p, bool is_root) {
  return is_root ? MPI_IN_PLACE : static_cast<void*>(p);
}

void reduce_vote(methods::VoteTally& t, int root, MPI_Comm comm, bool is_root) {
  const int n = static_cast<int>(t.dim);
  check(MPI_Reduce(send_of(t.plus.data(), is_root), t.plus.data(), n, MPI_UINT32_T, MPI_SUM, root, comm),
        "reduce plus");
  check(MPI_Reduce(send_of(t.minus.data(), is_root), t.minus.data(), n, MPI_UINT32_T, MPI_SUM, root, comm),
        "reduce minus");
  std::uint32_t voters = t.voters;
  check(MPI_Reduce(send_of(&voters, is_root), &voters, 1, MPI_UINT32_T, MPI_SUM, root, comm), "reduce voters");
  int abstaining = t.abstaining_codings ? 1 : 0;
  check(MPI_Reduce(send_of(&abstaining, is_root), &abstaining, 1, MPI_INT, MPI_LOR, root, comm), "reduce codings");
  if (is_root) {
    t.voters = voters;
    t.abstaining_codings = abstaining != 0;
  }
}

void reduce_mean(methods::MeanTally& t, int root, MPI_Comm comm, bool is_root) {
  // The three int64 limbs of every coordinate: plain integer sums.
  check(MPI_Reduce(send_of(t.limbs.data(), is_root), t.limbs.data(), static_cast<int>(t.limbs.size()), MPI_INT64_T,
                   MPI_SUM, root, comm),
        "reduce limbs");
  std::uint32_t count = t.count;
  std::uint64_t weight = t.weight;
  int out = t.out_of_range ? 1 : 0;
  check(MPI_Reduce(send_of(&count, is_root), &count, 1, MPI_UINT32_T, MPI_SUM, root, comm), "reduce count");
  check(MPI_Reduce(send_of(&weight, is_root), &weight, 1, MPI_UINT64_T, MPI_SUM, root, comm), "reduce weight");
  check(MPI_Reduce(send_of(&out, is_root), &out, 1, MPI_INT, MPI_LOR, root, comm), "reduce range");
  if (is_root) {
    t.count = count;
    t.weight = weight;
    // As merge(): more terms than MeanTally bounds could have overflowed the limbs.
    if (count > methods::MeanTally::kMaxTerms) throw codec::CodecError("tally: more than 2^22 updates in one tally");
    t.out_of_range = out != 0;
  }
}

}  // namespace

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(std::string("MPI ") + what + ": " + std::string(text, static_cast<std::size_t>(len)));
}

void reduce_tally(methods::Tally& tally, int root, MPI_Comm comm) {
  int rank = 0;
  check(MPI_Comm_rank(comm, &rank), "rank");
  const bool is_root = rank == root;
  if (auto* v = std::get_if<methods::VoteTally>(&tally)) reduce_vote(*v, root, comm, is_root);
  else reduce_mean(std::get<methods::MeanTally>(tally), root, comm, is_root);
}

}  // namespace signfed::sim
