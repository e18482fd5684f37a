// Open MPI's handles (MPI_COMM_WORLD, datatypes, operations) are macros over the addresses
// of its global objects, which Swift cannot import: these functions return them.
#include <mpi.h>

static inline MPI_Comm rat_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm rat_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype rat_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype rat_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype rat_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype rat_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op rat_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op rat_mpi_max(void) { return MPI_MAX; }
static inline void *rat_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int rat_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int rat_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
static inline MPI_Status *rat_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
