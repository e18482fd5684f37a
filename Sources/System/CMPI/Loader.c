// See include/CMPI.h. Types and constants come from Open MPI's mpi.h (Debian's multiarch
// alternative <mpi/mpi.h>); no MPI symbol is referenced at link time.
#include "CMPI.h"
#include <dlfcn.h>
#include <mpi/mpi.h>
#include <stdio.h>
#include <stdlib.h>

struct rat_mpi_comm { MPI_Comm comm; };

#define RAT_MPI_FUNCTIONS(X) \
    X(MPI_Initialized) X(MPI_Init_thread) X(MPI_Query_thread) X(MPI_Finalized) X(MPI_Finalize) \
    X(MPI_Comm_rank) X(MPI_Comm_size) X(MPI_Allreduce) X(MPI_Bcast) X(MPI_Barrier) \
    X(MPI_Comm_split) X(MPI_Comm_dup) X(MPI_Send) X(MPI_Recv) X(MPI_Abort)
#define RAT_DECLARE(name) static __typeof__(name) *p_##name;
RAT_MPI_FUNCTIONS(RAT_DECLARE)

// Open MPI's predefined objects (what its handle macros take the address of).
static void *comm_world, *type_float, *type_double, *type_int64, *type_byte, *op_sum, *op_max;

int rat_mpi_load(char *error, size_t capacity) {
    if (p_MPI_Init_thread) return 0;
    // RTLD_GLOBAL: Open MPI's own plugins resolve their symbols against libmpi's.
    const char *names[] = {"libmpi.so.40", "libmpi.so"};
    void *library = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !library; i++) library = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
        snprintf(error, capacity, "cannot load Open MPI's libmpi (libmpi.so.40): %s", dlerror());
        return -1;
    }
    const char *missing = NULL;
#define RAT_RESOLVE(name) if (!(p_##name = (__typeof__(name) *)dlsym(library, #name))) missing = #name;
    RAT_MPI_FUNCTIONS(RAT_RESOLVE)
#define RAT_OBJECT(variable, symbol) if (!(variable = dlsym(library, symbol))) missing = symbol;
    RAT_OBJECT(comm_world, "ompi_mpi_comm_world") RAT_OBJECT(type_float, "ompi_mpi_float")
    RAT_OBJECT(type_double, "ompi_mpi_double") RAT_OBJECT(type_int64, "ompi_mpi_int64_t")
    RAT_OBJECT(type_byte, "ompi_mpi_byte") RAT_OBJECT(op_sum, "ompi_mpi_op_sum") RAT_OBJECT(op_max, "ompi_mpi_op_max")
    if (missing) {
        snprintf(error, capacity, "the loaded libmpi lacks '%s': rat needs Open MPI (4.x or later)", missing);
        p_MPI_Init_thread = NULL;
        return -1;
    }
    return 0;
}

int rat_mpi_init(void) {
    int initialised = 0, provided = 0;
    p_MPI_Initialized(&initialised);
    if (!initialised) p_MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
    return rat_mpi_thread_multiple();
}

int rat_mpi_thread_multiple(void) {
    int level = 0;
    p_MPI_Query_thread(&level);
    return level >= MPI_THREAD_MULTIPLE;
}

void rat_mpi_finalize(void) {
    int finalized = 0;
    p_MPI_Finalized(&finalized);
    if (!finalized) p_MPI_Finalize();
}

static rat_mpi_comm_t box(MPI_Comm comm) {
    rat_mpi_comm_t boxed = malloc(sizeof *boxed);
    if (!boxed) abort();
    boxed->comm = comm;
    return boxed;
}

rat_mpi_comm_t rat_mpi_world(void) { return box((MPI_Comm)comm_world); }
int rat_mpi_rank(rat_mpi_comm_t c) { int r = 0; p_MPI_Comm_rank(c->comm, &r); return r; }
int rat_mpi_size(rat_mpi_comm_t c) { int s = 0; p_MPI_Comm_size(c->comm, &s); return s; }

void rat_mpi_allreduce_float_sum(rat_mpi_comm_t c, float *values, int count) {
    p_MPI_Allreduce(MPI_IN_PLACE, values, count, (MPI_Datatype)type_float, (MPI_Op)op_sum, c->comm);
}
void rat_mpi_allreduce_double_sum(rat_mpi_comm_t c, double *values, int count) {
    p_MPI_Allreduce(MPI_IN_PLACE, values, count, (MPI_Datatype)type_double, (MPI_Op)op_sum, c->comm);
}
int64_t rat_mpi_allreduce_int64_max(rat_mpi_comm_t c, int64_t value) {
    int64_t result = 0;
    p_MPI_Allreduce(&value, &result, 1, (MPI_Datatype)type_int64, (MPI_Op)op_max, c->comm);
    return result;
}
void rat_mpi_bcast_bytes(rat_mpi_comm_t c, void *bytes, int count, int root) {
    p_MPI_Bcast(bytes, count, (MPI_Datatype)type_byte, root, c->comm);
}
void rat_mpi_bcast_int64(rat_mpi_comm_t c, int64_t *value, int root) {
    p_MPI_Bcast(value, 1, (MPI_Datatype)type_int64, root, c->comm);
}
void rat_mpi_barrier(rat_mpi_comm_t c) { p_MPI_Barrier(c->comm); }

rat_mpi_comm_t rat_mpi_split(rat_mpi_comm_t c, int color, int key) {
    MPI_Comm group;
    p_MPI_Comm_split(c->comm, color, key, &group);
    return box(group);
}
rat_mpi_comm_t rat_mpi_dup(rat_mpi_comm_t c) {
    MPI_Comm copy;
    p_MPI_Comm_dup(c->comm, &copy);
    return box(copy);
}
void rat_mpi_send_int64(rat_mpi_comm_t c, int64_t value, int destination, int tag) {
    p_MPI_Send(&value, 1, (MPI_Datatype)type_int64, destination, tag, c->comm);
}
int64_t rat_mpi_recv_int64(rat_mpi_comm_t c, int source, int tag, int *from) {
    int64_t value = 0;
    MPI_Status status;
    p_MPI_Recv(&value, 1, (MPI_Datatype)type_int64, source < 0 ? MPI_ANY_SOURCE : source, tag, c->comm, &status);
    *from = status.MPI_SOURCE;
    return value;
}
void rat_mpi_abort(rat_mpi_comm_t c, int code) { p_MPI_Abort(c->comm, code); }
