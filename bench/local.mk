# Filled in by the bench module.
