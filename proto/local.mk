# Filled in by the proto module.
