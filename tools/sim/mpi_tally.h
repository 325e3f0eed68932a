// Reducing partial tallies (core/methods/tally.h) over MPI ranks, exactly.
//
//   VoteTally  plus[], minus[] and voters: MPI_SUM on MPI_UINT32_T;
//              abstaining_codings: MPI_LOR
//   MeanTally  limbs[] (three int64 per coordinate): MPI_SUM on MPI_INT64_T;
//              count (MPI_UINT32_T) and weight (MPI_UINT64_T): MPI_SUM;
//              out_of_range: MPI_LOR
//
// Integer additions only, so the reduced tally is the tally of the union of
// the ranks' clients whatever tree MPI reduces over (what merge() gives).
// Counts are not bit-packed: at M = 10,000 an MLP's counts are two uint32 a
// coordinate per rank, once per round.
//
// Collective: every rank of `comm` calls it with a tally of the same kind and
// dimension. Not thread-safe (MPI is initialised with MPI_THREAD_SINGLE).
#pragma once

#include <mpi.h>

#include "core/methods/tally.h"

namespace signfed::sim {

// Throws std::runtime_error naming `what` and MPI's message unless rc is MPI_SUCCESS.
void mpi_check(int rc, const char* what);

// Replaces `tally` on rank `root` by the sum of every rank's; on the other
// ranks it is left as it was. Throws std::runtime_error on an MPI error.
void reduce_tally(methods::Tally& tally, int root, MPI_Comm comm);

}  // namespace signfed::sim
