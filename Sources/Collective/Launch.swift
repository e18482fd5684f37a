import Foundation

/// How this process was started: by an MPI launcher or not. Read from the environment the
/// launchers set, so that a plain `rat` never initialises MPI (nor pays its start-up).
public enum Launch {
    /// Environment variables that Open MPI's `mpirun` (and Slurm's `srun --mpi=pmix`,
    /// through PMIx) set in every process it starts.
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"]

    public static var underMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return launcherVariables.contains { environment[$0] != nil }
    }

    /// This process's rank as the launcher set it (before MPI is initialised), nil without one.
    public static var launcherRank: Int? {
        let environment = ProcessInfo.processInfo.environment
        return (environment["OMPI_COMM_WORLD_RANK"] ?? environment["PMIX_RANK"]).flatMap { Int($0) }
    }

    /// MPI_COMM_WORLD when started by an MPI launcher, else the group of one. Throws when
    /// a launcher started this process but Open MPI's library cannot be loaded.
    public static func communicator() throws(MPIUnavailable) -> any Communicator {
        underMPI ? try MPICommunicator.world() : SingleProcess()
    }

    /// Ends MPI if this process started it (every rank, after its last collective).
    public static func finish(_ communicator: any Communicator) {
        if communicator is MPICommunicator { MPICommunicator.finalize() }
    }
}
