/// The one error type for every bad input in the data pipeline (shards, manifests, source
/// files). Its description always names the file, the field and, when known, the byte offset,
/// so a user can open the file in a hex editor and see what is wrong.
public struct DataFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Coarse classification, so tests and callers can react without parsing text.
    public enum Kind: String, Sendable, Equatable {
        case io                 // cannot open, read, write or rename
        case truncated          // file shorter than its own header says
        case badMagic           // not the file type it claims to be
        case unsupported        // a valid file using a feature we do not read
        case checksumMismatch   // content changed after it was written
        case labelOutOfRange    // a label outside 0..<classCount
        case missingField       // a required part (a .mat variable, a split, a manifest key)
        case wrongDimensions    // shapes that disagree with the format or with each other
        case corrupt            // anything else structurally invalid (bad zstd/zlib stream)
        case invalidArgument    // a request that cannot be satisfied (e.g. --val too large)
    }

    public var kind: Kind
    public var file: String
    public var field: String
    /// Byte offset into `file` where the problem was found, when it is meaningful.
    public var offset: Int?
    public var problem: String

    public init(_ kind: Kind, file: String, field: String, offset: Int? = nil, _ problem: String) {
        self.kind = kind
        self.file = file
        self.field = field
        self.offset = offset
        self.problem = problem
    }

    public var description: String {
        let at = offset.map { " at byte offset \($0)" } ?? ""
        return "\(file): \(field)\(at): \(problem)"
    }
}

#if canImport(Foundation)
import Foundation
extension DataFormatError: LocalizedError {
    public var errorDescription: String? { description }
}
#endif
