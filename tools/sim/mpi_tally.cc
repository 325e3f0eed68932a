#include "tools/sim/mpi_tally.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace signfed::sim {

namespace {

static_assert(sizeof(methods::Fixed128) == 16 && std::is_trivially_copyable_v<methods::Fixed128>,
              "the MPI datatype below is two 64-bit words");

void check(int rc, const char* what) { mpi_check(rc, what); }

// inout[i] += in[i] as signed 128-bit integers (wrapping, like the tally's own
// add: in range by MeanTally's bounds). The high words add as unsigned, so
// two's complement wrap-around is defined behaviour.
void add_fixed128(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const methods::Fixed128*>(in);
  auto* b = static_cast<methods::Fixed128*>(inout);
  for (int i = 0; i < *len; ++i) {
    const std::uint64_t lo = a[i].lo + b[i].lo;
    const std::uint64_t carry = lo < a[i].lo ? 1u : 0u;
    const std::uint64_t hi =
        static_cast<std::uint64_t>(a[i].hi) + static_cast<std::uint64_t>(b[i].hi) + carry;
    b[i].lo = lo;
    std::memcpy(&b[i].hi, &hi, sizeof hi);
  }
}

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
  MPI_Datatype fixed;
  check(MPI_Type_contiguous(2, MPI_UINT64_T, &fixed), "type");
  check(MPI_Type_commit(&fixed), "type commit");
  MPI_Op add;
  check(MPI_Op_create(&add_fixed128, /*commute=*/1, &add), "op");
  const int rc =
      MPI_Reduce(send_of(t.sum.data(), is_root), t.sum.data(), static_cast<int>(t.dim), fixed, add, root, comm);
  MPI_Op_free(&add);
  MPI_Type_free(&fixed);
  check(rc, "reduce sums");
  std::uint32_t count = t.count;
  std::uint64_t weight = t.weight;
  int out = t.out_of_range ? 1 : 0;
  check(MPI_Reduce(send_of(&count, is_root), &count, 1, MPI_UINT32_T, MPI_SUM, root, comm), "reduce count");
  check(MPI_Reduce(send_of(&weight, is_root), &weight, 1, MPI_UINT64_T, MPI_SUM, root, comm), "reduce weight");
  check(MPI_Reduce(send_of(&out, is_root), &out, 1, MPI_INT, MPI_LOR, root, comm), "reduce range");
  if (is_root) {
    t.count = count;
    t.weight = weight;
    // As merge(): more terms than MeanTally bounds could have overflowed the integer bits.
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
