import Foundation
import Recipe
import Testing

/// The bad-recipe corpus shipped as a test resource.
func corpusPath(_ name: String) -> String {
    Bundle.module.resourceURL!.appendingPathComponent("Recipes").appendingPathComponent(name).path
}

/// The repository's top folder, found from this file's place in `Tests/RecipeTests/`.
func repositoryRoot(_ filePath: String = #filePath) -> URL {
    URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// Every `.yaml` file under `folder`, sorted, as absolute paths.
func yamlFiles(under folder: URL) -> [String] {
    let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
    var paths: [String] = []
    while let url = enumerator?.nextObject() as? URL {
        if url.pathExtension == "yaml" { paths.append(url.path) }
    }
    return paths.sorted()
}

/// The error a load throws, or nil (and a test failure) when it loads.
func loadError(_ path: String, overrides: [String] = [], requireSections: Bool = true) -> RecipeError? {
    do {
        _ = try RecipeLoader.load(path: path, overrides: overrides, requireSections: requireSections)
        Issue.record("expected \(path) to fail to load")
        return nil
    } catch let error as RecipeError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// `file:line:col: message` with the file shortened to its last component, for exact comparison.
func shortForm(_ error: RecipeError) -> String {
    let file = (error.location.file as NSString).lastPathComponent
    return "\(file):\(error.location.line):\(error.location.column): \(error.message)"
}

func shortForm(_ diagnostic: Diagnostic) -> String {
    let file = (diagnostic.location.file as NSString).lastPathComponent
    return "\(file):\(diagnostic.location.line):\(diagnostic.location.column): \(diagnostic.severity.rawValue): \(diagnostic.message)"
}
