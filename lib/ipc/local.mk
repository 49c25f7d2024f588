# Filled in by the lib/ipc module.
