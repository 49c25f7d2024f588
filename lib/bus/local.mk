# Filled in by the lib/bus module.
