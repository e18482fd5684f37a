// Open MPI, loaded at run time: rat links no MPI library, so a plain `rat` (no mpirun) loads
// nothing more than before and starts as fast. Under mpirun, `rat_mpi_load` dlopens Open MPI's
// libmpi and resolves the few functions and handles rat uses. The handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, …) are macros over the addresses of libmpi's global objects, which
// Swift could not import anyway: here they are looked up by name.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// An MPI communicator (MPI_Comm, boxed).
typedef struct rat_mpi_comm *rat_mpi_comm_t;

/// Loads libmpi and resolves its symbols; 0 on success, else -1 with a message in `error`.
int rat_mpi_load(char *error, size_t capacity);
/// MPI_Init_thread(MPI_THREAD_MULTIPLE) unless already initialised; returns the provided level ≥ MULTIPLE.
int rat_mpi_init(void);
int rat_mpi_thread_multiple(void);
void rat_mpi_finalize(void);

rat_mpi_comm_t rat_mpi_world(void);
int rat_mpi_rank(rat_mpi_comm_t comm);
int rat_mpi_size(rat_mpi_comm_t comm);
void rat_mpi_allreduce_float_sum(rat_mpi_comm_t comm, float *values, int count);
void rat_mpi_allreduce_double_sum(rat_mpi_comm_t comm, double *values, int count);
int64_t rat_mpi_allreduce_int64_max(rat_mpi_comm_t comm, int64_t value);
void rat_mpi_bcast_bytes(rat_mpi_comm_t comm, void *bytes, int count, int root);
void rat_mpi_bcast_int64(rat_mpi_comm_t comm, int64_t *value, int root);
void rat_mpi_barrier(rat_mpi_comm_t comm);
rat_mpi_comm_t rat_mpi_split(rat_mpi_comm_t comm, int color, int key);
rat_mpi_comm_t rat_mpi_dup(rat_mpi_comm_t comm);
void rat_mpi_send_int64(rat_mpi_comm_t comm, int64_t value, int destination, int tag);
/// `source` -1: any rank; the sender's rank goes to `from`.
int64_t rat_mpi_recv_int64(rat_mpi_comm_t comm, int source, int tag, int *from);
void rat_mpi_abort(rat_mpi_comm_t comm, int code);
