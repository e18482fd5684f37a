// Executor module.
