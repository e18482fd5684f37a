// Objectives module.
