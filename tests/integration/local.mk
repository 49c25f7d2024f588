# Integration tests are bash scripts that source tests/integration/lib.sh and print TAP. Each
# daemon's local.mk adds its own (TESTS += tests/integration/test-<x>.sh, plus EXTRA_DIST). Tests
# that drive several daemons together are listed here.
