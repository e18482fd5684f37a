import Shards

/// A reader for the MATLAB Level 5 MAT-file format, enough for numeric arrays such as SVHN's
/// `X` (uint8 32×32×3×N) and `y` (double N×1). Reference: MathWorks, "MAT-File Format",
/// chapter 1 (Level 5). Layout:
///
///     128-byte header: 116 text, 8 subsystem offset, 2 version (0x0100), 2 endian "IM"/"MI"
///     then data elements, each: tag (u32 type, u32 byte count) + data padded to 8 bytes,
///     or the "small element" tag (u16 byte count in the high half, u16 type) + 4 data bytes.
///     miCOMPRESSED (15) elements hold a zlib stream that inflates to one more element
///     (not padded). miMATRIX (14) holds: array flags, dimensions, name, real part[, imag].
public enum MAT5 {
    /// Data element types (the `type` of a tag).
    public enum ElementType: UInt32, Sendable {
        case int8 = 1, uint8 = 2, int16 = 3, uint16 = 4, int32 = 5, uint32 = 6
        case single = 7, double = 9, int64 = 12, uint64 = 13
        case matrix = 14, compressed = 15, utf8 = 16, utf16 = 17, utf32 = 18

        var byteWidth: Int? {
            switch self {
            case .int8, .uint8, .utf8: return 1
            case .int16, .uint16, .utf16: return 2
            case .int32, .uint32, .single, .utf32: return 4
            case .double, .int64, .uint64: return 8
            case .matrix, .compressed: return nil
            }
        }
    }

    /// One numeric variable. `data[dataRange]` holds `elementCount` values of `storedType`
    /// (MATLAB may store a double array as uint8 when the values fit), column-major.
    public struct Variable: Sendable {
        public var name: String
        public var classCode: UInt8        // mxDOUBLE_CLASS = 6, mxUINT8_CLASS = 9, …
        public var dimensions: [Int]
        public var storedType: ElementType
        public var data: [UInt8]
        public var dataRange: Range<Int>
        public var littleEndian: Bool
        /// Where the variable lives, for error messages ("file.mat, compressed element at byte 184").
        public var location: String
        public var file: String

        public var elementCount: Int { dimensions.reduce(1, *) }

        /// Values as bytes (0...255); fails on any value that is not a whole number in range.
        public func uint8Values(field: String) throws -> [UInt8] {
            if storedType == .uint8 || storedType == .int8 && data[dataRange].allSatisfy({ $0 < 128 }) {
                return Array(data[dataRange])
            }
            return try integerValues(field: field).enumerated().map { index, value in
                guard (0...255).contains(value) else {
                    throw DataFormatError(.corrupt, file: file, field: "\(field)[\(index)] (\(location))", "value \(value) does not fit uint8")
                }
                return UInt8(value)
            }
        }

        /// Values as integers; fails on NaN, infinities and fractions.
        public func integerValues(field: String) throws -> [Int] {
            guard let width = storedType.byteWidth, storedType.rawValue <= 13 else {
                throw DataFormatError(.unsupported, file: file, field: "\(field) (\(location))", "stored type \(storedType) is not numeric")
            }
            var cursor = ByteCursor(data, file: file, offset: dataRange.lowerBound, littleEndian: littleEndian)
            var values: [Int] = []
            values.reserveCapacity(elementCount)
            for index in 0..<elementCount {
                let value: Double
                switch storedType {
                case .int8: value = Double(Int8(bitPattern: try cursor.u8(field)))
                case .uint8: value = Double(try cursor.u8(field))
                case .int16: value = Double(Int16(bitPattern: try cursor.u16(field)))
                case .uint16: value = Double(try cursor.u16(field))
                case .int32: value = Double(Int32(bitPattern: try cursor.u32(field)))
                case .uint32: value = Double(try cursor.u32(field))
                case .int64: value = Double(Int64(bitPattern: try cursor.u64(field)))
                case .uint64: value = Double(try cursor.u64(field))
                case .single: value = Double(Float(bitPattern: try cursor.u32(field)))
                default: value = Double(bitPattern: try cursor.u64(field))
                }
                guard value.isFinite, value == value.rounded(), abs(value) < 1e15 else {
                    throw DataFormatError(.corrupt, file: file, field: "\(field)[\(index)] (\(location))", "value \(value) is not an integer")
                }
                values.append(Int(value))
            }
            _ = width
            return values
        }
    }

    /// Reads every numeric matrix variable in the file (other classes are skipped).
    public static func read(_ path: String) throws -> [String: Variable] {
        try read(FileBytes.read(path), file: path)
    }

    public static func read(_ bytes: [UInt8], file: String) throws -> [String: Variable] {
        let header = ByteCursor(bytes, file: file)
        try header.require(128, for: "MAT-file header")
        let text = String(decoding: bytes[0..<min(116, bytes.count)], as: UTF8.self)
        guard text.hasPrefix("MATLAB 5.0 MAT-file") else {
            throw DataFormatError(.badMagic, file: file, field: "MAT-file header text", offset: 0,
                                  "does not start with \"MATLAB 5.0 MAT-file\"; v7.3 (HDF5) and v4 files are not read")
        }
        let littleEndian: Bool
        switch (bytes[126], bytes[127]) {
        case (UInt8(ascii: "I"), UInt8(ascii: "M")): littleEndian = true
        case (UInt8(ascii: "M"), UInt8(ascii: "I")): littleEndian = false
        default:
            throw DataFormatError(.badMagic, file: file, field: "endian indicator", offset: 126, "expected \"IM\" or \"MI\"")
        }
        var variables: [String: Variable] = [:]
        var cursor = ByteCursor(bytes, file: file, offset: 128, littleEndian: littleEndian)
        while cursor.remaining > 0 {
            let elementStart = cursor.offset
            let (type, size) = try readTag(&cursor, field: "data element tag")
            try cursor.require(size, for: "data element (type \(type), \(size) bytes)")
            let body = cursor.offset..<(cursor.offset + size)
            switch ElementType(rawValue: type) {
            case .compressed:
                let inflated = try Zlib.inflate(bytes, range: body, wrapper: .zlib, file: file,
                                                field: "miCOMPRESSED element at byte \(elementStart)")
                var inner = ByteCursor(inflated, file: file, littleEndian: littleEndian)
                let location = "inside the compressed element at byte \(elementStart)"
                let (innerType, innerSize) = try readTag(&inner, field: "element tag (\(location))")
                try inner.require(innerSize, for: "element (\(location))")
                if innerType == ElementType.matrix.rawValue,
                   let variable = try readMatrix(inflated, range: inner.offset..<(inner.offset + innerSize), file: file,
                                                 littleEndian: littleEndian, location: location) {
                    variables[variable.name] = variable
                }
                cursor.offset = body.upperBound  // compressed elements are not padded
            case .matrix:
                if let variable = try readMatrix(bytes, range: body, file: file, littleEndian: littleEndian,
                                                 location: "matrix element at byte \(elementStart)") {
                    variables[variable.name] = variable
                }
                cursor.offset = min(bytes.count, body.upperBound + padding(size))
            default:
                cursor.offset = min(bytes.count, body.upperBound + padding(size))
            }
        }
        return variables
    }

    private static func padding(_ size: Int) -> Int { (8 - size % 8) % 8 }

    /// Reads a tag, normal or small-element form; leaves the cursor at the data.
    /// For a small element the returned size is its real size but the data occupies 4 bytes.
    private static func readTag(_ cursor: inout ByteCursor, field: String) throws -> (type: UInt32, size: Int) {
        let first = try cursor.u32(field)
        if first >> 16 != 0 {
            return (first & 0xFFFF, Int(first >> 16))
        }
        return (first, Int(try cursor.u32(field)))
    }

    /// Reads a sub-element of a matrix: returns its type and data range, advancing past padding.
    private static func subElement(_ cursor: inout ByteCursor, field: String) throws -> (type: UInt32, range: Range<Int>) {
        let first = try cursor.u32(field)
        if first >> 16 != 0 {
            let size = Int(first >> 16)
            guard size <= 4 else {
                throw DataFormatError(.corrupt, file: cursor.file, field: field, offset: cursor.offset - 4, "small element of \(size) bytes (max 4)")
            }
            try cursor.require(4, for: field)
            defer { cursor.offset += 4 }
            return (first & 0xFFFF, cursor.offset..<(cursor.offset + size))
        }
        let size = Int(try cursor.u32(field))
        try cursor.require(size, for: field)
        let range = cursor.offset..<(cursor.offset + size)
        cursor.offset += size
        cursor.offset = min(cursor.bytes.count, cursor.offset + padding(size))
        return (first, range)
    }

    private static func readMatrix(_ bytes: [UInt8], range: Range<Int>, file: String, littleEndian: Bool,
                                   location: String) throws -> Variable? {
        guard !range.isEmpty else { return nil }   // an empty miMATRIX is an empty array
        var cursor = ByteCursor(bytes, file: file, offset: range.lowerBound, littleEndian: littleEndian)
        // Sub-elements must stay inside the matrix element.
        func inside(_ element: (type: UInt32, range: Range<Int>), _ field: String) throws -> (type: UInt32, range: Range<Int>) {
            guard element.range.upperBound <= range.upperBound else {
                throw DataFormatError(.corrupt, file: file, field: "\(field) (\(location))", offset: element.range.lowerBound,
                                      "runs past the end of its matrix element (byte \(range.upperBound))")
            }
            return element
        }
        let flags = try inside(subElement(&cursor, field: "array flags (\(location))"), "array flags")
        var flagCursor = ByteCursor(bytes, file: file, offset: flags.range.lowerBound, littleEndian: littleEndian)
        let flagWord = try flagCursor.u32("array flags (\(location))")
        let classCode = UInt8(flagWord & 0xFF)
        let isComplex = flagWord & 0x800 != 0
        guard (6...15).contains(classCode), !isComplex else { return nil }  // cells, structs, chars, sparse, complex: skip

        let dims = try inside(subElement(&cursor, field: "dimensions (\(location))"), "dimensions")
        var dimCursor = ByteCursor(bytes, file: file, offset: dims.range.lowerBound, littleEndian: littleEndian)
        var dimensions: [Int] = []
        for index in 0..<(dims.range.count / 4) {
            let value = Int(Int32(bitPattern: try dimCursor.u32("dimension \(index) (\(location))")))
            guard value >= 0 else {
                throw DataFormatError(.wrongDimensions, file: file, field: "dimension \(index) (\(location))", offset: dimCursor.offset - 4, "negative size \(value)")
            }
            dimensions.append(value)
        }
        let nameElement = try inside(subElement(&cursor, field: "array name (\(location))"), "array name")
        let name = String(decoding: bytes[nameElement.range], as: UTF8.self)
        let real = try inside(subElement(&cursor, field: "real part of \(name) (\(location))"), "real part of \(name)")
        guard let storedType = ElementType(rawValue: real.type), let width = storedType.byteWidth else {
            throw DataFormatError(.unsupported, file: file, field: "real part of \(name) (\(location))", "element type \(real.type)")
        }
        let variable = Variable(name: name, classCode: classCode, dimensions: dimensions, storedType: storedType,
                                data: bytes, dataRange: real.range, littleEndian: littleEndian, location: location, file: file)
        guard real.range.count == variable.elementCount * width else {
            throw DataFormatError(.wrongDimensions, file: file, field: "real part of \(name) (\(location))", offset: real.range.lowerBound,
                                  "\(real.range.count) bytes for dimensions \(dimensions.map(String.init).joined(separator: "×")) of \(width)-byte values")
        }
        return variable
    }
}
