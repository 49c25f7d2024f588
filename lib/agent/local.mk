# Filled in by the lib/agent module.
