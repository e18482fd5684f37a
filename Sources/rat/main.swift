import ArgumentParser
import Commands

// The executable: parse, re-execute with the OpenBLAS settings when the command asks for
// them (before it runs anything), run. The commands themselves live in `Commands`.
do {
    var command = try Rat.parseAsRoot()
    if let blas = command as? BLASSettingsCommand {
        try reexecutingWithBLASSettings(coretype: blas.blasCoretype)
    }
    try command.run()
} catch {
    Rat.exit(withError: error)
}
