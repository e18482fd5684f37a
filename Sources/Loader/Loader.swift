// Loader module.
