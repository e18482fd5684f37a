import COpenBLAS
public func blasThreads() -> Int { Int(openblas_get_num_threads()) }
