// Planner module.
