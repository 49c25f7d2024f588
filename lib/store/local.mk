# Filled in by the lib/store module.
