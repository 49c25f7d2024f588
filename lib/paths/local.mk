# Filled in by the lib/paths module.
