# Filled in by the lib/json module.
