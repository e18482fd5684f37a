import Executor
import Kernels

/// What `precision: bf16` really does in this process, for the training log: the step's graphs
/// were compiled with oneDNN's bf16 convolutions where oneDNN accepted them; rat's own kernels
/// (the RGB first layer, elementwise, BatchNorm) stay f32, and without oneDNN nothing is bf16.
func bf16Summary(_ program: StepProgram) -> String {
    let executors = program.graphs.compactMap { ($0.graph as? FastGraph)?.executor }
    let all = executors.reduce(0) { $0 + $1.oneDNNPrimitives }
    let bf16 = executors.reduce(0) { $0 + $1.oneDNNBF16Primitives }
    guard oneDNNEnabled else {
        return "warning: precision: bf16 needs oneDNN, and RAT_ONEDNN=0 switched it off: the training step runs fp32"
    }
    let native = oneDNNBF16Native ? "" : " (this CPU has no AVX512_BF16/AMX: oneDNN emulates bf16, slower than fp32)"
    return "precision: bf16: \(bf16) of the training step's \(all) oneDNN convolution primitives (the forward ones) run "
        + "with bf16 inputs (f32 accumulation; gradients and weights f32)\(native); evaluation runs fp32"
}
