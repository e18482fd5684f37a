// Graph module.
