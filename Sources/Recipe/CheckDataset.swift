import Foundation

/// The dataset part of `check`: the folder must hold a `manifest.json` (written by the
/// Shards module). Its `classes`/`channels`/`height`/`width` are compared when present;
/// fields that are missing or not integers are skipped, so the check tolerates format changes.
func checkDataset(_ recipe: Recipe, options: CheckOptions, _ findings: inout Findings) {
    let path = recipe.data.path
    let base = options.workingDirectory ?? FileManager.default.currentDirectoryPath
    let folder = path.hasPrefix("/") ? path : base + "/" + path
    let manifestPath = folder + "/manifest.json"
    guard let bytes = FileManager.default.contents(atPath: manifestPath) else {
        findings.error("dataset not found at '\(path)' (no manifest.json there); prepare it with "
                       + "`rat data prepare --format <format> <source> \(path)`, or check the recipe alone with --no-data",
                       at: "data.path")
        return
    }
    guard let manifest = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] else { return }
    func integer(_ key: String) -> Int? {
        guard let number = manifest[key] as? NSNumber, number.doubleValue == number.doubleValue.rounded() else { return nil }
        return number.intValue
    }
    if let splits = manifest["splits"] as? [String: Any] {
        let available = splits.keys.sorted().joined(separator: ", ")
        let needed: [(String, String)] = [(recipe.data.splits.train, "data.splits.train"), (recipe.eval.split.rawValue, "eval.split"),
                                          (recipe.eval.select.split.rawValue, "eval.select.split")]
        // A missing val split is carved out of train when data.val > 0 (as the trainer does).
        let carvesValidation = splits["val"] == nil && recipe.data.val > 0
        for (split, key) in needed where splits[split] == nil && !(split == "val" && carvesValidation) {
            findings.error("the dataset at '\(path)' has no '\(split)' split (it has: \(available))", at: key)
        }
        // The step graph has a static batch and training drops the last partial batch: a
        // batch larger than the train split would train nothing.
        let train = recipe.data.splits.train
        if let entry = splits[train] as? [String: Any], let listed = (entry["count"] as? NSNumber)?.intValue {
            let count = listed - (carvesValidation ? recipe.data.val : 0)
            if recipe.schedule.batch > count {
                findings.error("schedule.batch (\(recipe.schedule.batch)) is larger than the '\(train)' split of the dataset "
                               + "at '\(path)' (\(count) images\(carvesValidation ? " after carving data.val" : "")): "
                               + "no full batch, nothing would be trained", at: "schedule.batch")
            }
        }
    }
    if let classes = integer("class_count") ?? integer("classes"), let modelClasses = recipe.model.classes, classes != modelClasses {
        findings.error("model.classes is \(modelClasses) but the dataset at '\(path)' has \(classes) classes", at: "model.classes")
    }
    guard let channels = integer("channels"), let height = integer("height"), let width = integer("width") else { return }
    let cifarModels = ["preact-resnet18", "wide-resnet", "vgg16", "mobilenet-v2"]
    if cifarModels.contains(recipe.model.name), (channels, height, width) != (3, 32, 32) {
        findings.warning("\(recipe.model.name) is the CIFAR variant (3×32×32 inputs); the dataset is "
                         + "\(channels)×\(height)×\(width)", at: "model.name")
    }
}
