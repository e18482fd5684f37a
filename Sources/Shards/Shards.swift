import CZstd
public func zstdVersion() -> UInt32 { ZSTD_versionNumber() }
