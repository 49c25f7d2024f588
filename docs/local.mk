# Filled in by the docs module.
