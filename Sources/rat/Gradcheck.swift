import ArgumentParser

struct Gradcheck: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check gradients against finite differences.")
    func run() throws { print("todo") }
}
